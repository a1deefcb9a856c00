-- smartcron schema for MySQL 8 / MariaDB 10.6+, generated from the Alembic migrations.
-- Do not edit: regenerate with `smartcron db schema > sql/schema.mysql.sql`.
-- Prefer `smartcron db upgrade`, which applies the same migrations and records them.

CREATE TABLE alembic_version (
    version_num VARCHAR(32) NOT NULL,
    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);

-- Running upgrade  -> 0001

CREATE TABLE alerts (
    id INTEGER NOT NULL AUTO_INCREMENT,
    task_name VARCHAR(64),
    kind VARCHAR(32) NOT NULL,
    state VARCHAR(16) NOT NULL,
    severity VARCHAR(16) NOT NULL,
    summary TEXT NOT NULL,
    details TEXT,
    execution_id BIGINT,
    failure_count INTEGER NOT NULL DEFAULT '1',
    notify_count INTEGER NOT NULL DEFAULT '0',
    opened_at DATETIME(6) NOT NULL,
    last_notified_at DATETIME(6),
    acknowledged_at DATETIME(6),
    acknowledged_by VARCHAR(64),
    resolved_at DATETIME(6),
    CONSTRAINT pk_alerts PRIMARY KEY (id)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE INDEX ix_alerts_state_opened ON alerts (state, opened_at);

CREATE INDEX ix_alerts_task_kind_state ON alerts (task_name, kind, state);

CREATE TABLE audit_log (
    id BIGINT NOT NULL AUTO_INCREMENT,
    at DATETIME(6) NOT NULL,
    actor VARCHAR(64) NOT NULL,
    action VARCHAR(64) NOT NULL,
    target VARCHAR(255),
    details TEXT,
    CONSTRAINT pk_audit_log PRIMARY KEY (id)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE INDEX ix_audit_log_at ON audit_log (at);

CREATE TABLE health_checks (
    id BIGINT NOT NULL AUTO_INCREMENT,
    checked_at DATETIME(6) NOT NULL,
    check_name VARCHAR(64) NOT NULL,
    status VARCHAR(8) NOT NULL,
    value FLOAT,
    message TEXT NOT NULL,
    CONSTRAINT pk_health_checks PRIMARY KEY (id)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE INDEX ix_health_checks_at ON health_checks (checked_at);

CREATE INDEX ix_health_checks_name_at ON health_checks (check_name, checked_at);

CREATE TABLE state (
    `key` VARCHAR(64) NOT NULL,
    value TEXT NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    CONSTRAINT pk_state PRIMARY KEY (`key`)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE task_daily_stats (
    task_name VARCHAR(64) NOT NULL,
    day DATE NOT NULL,
    runs INTEGER NOT NULL,
    successes INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    total_duration_s FLOAT NOT NULL,
    max_duration_s FLOAT NOT NULL,
    CONSTRAINT pk_task_daily_stats PRIMARY KEY (task_name, day)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE tasks (
    id INTEGER NOT NULL AUTO_INCREMENT,
    name VARCHAR(64) NOT NULL,
    description VARCHAR(200) NOT NULL DEFAULT '',
    command TEXT NOT NULL,
    schedule VARCHAR(255) NOT NULL,
    timezone VARCHAR(64) NOT NULL,
    timeout_s INTEGER NOT NULL,
    retries INTEGER NOT NULL DEFAULT '0',
    retry_delay_s INTEGER NOT NULL DEFAULT '30',
    memory_max BIGINT,
    cpu_quota INTEGER,
    nice INTEGER,
    run_user VARCHAR(32),
    run_group VARCHAR(32),
    workdir VARCHAR(4096),
    env TEXT NOT NULL,
    category VARCHAR(64) NOT NULL DEFAULT 'general',
    priority VARCHAR(16) NOT NULL DEFAULT 'normal',
    alert_on TEXT NOT NULL,
    alert_after INTEGER NOT NULL DEFAULT '1',
    warn_after_s INTEGER,
    channels TEXT NOT NULL,
    paused BOOL NOT NULL DEFAULT 0,
    catch_up BOOL NOT NULL DEFAULT 1,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    CONSTRAINT pk_tasks PRIMARY KEY (id),
    CONSTRAINT uq_tasks_name UNIQUE (name)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE users (
    id INTEGER NOT NULL AUTO_INCREMENT,
    username VARCHAR(64) NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    `role` VARCHAR(16) NOT NULL,
    disabled BOOL NOT NULL DEFAULT 0,
    created_at DATETIME(6) NOT NULL,
    last_login_at DATETIME(6),
    CONSTRAINT pk_users PRIMARY KEY (id),
    CONSTRAINT uq_users_username UNIQUE (username)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE executions (
    id BIGINT NOT NULL AUTO_INCREMENT,
    task_id INTEGER,
    task_name VARCHAR(64) NOT NULL,
    invocation_id VARCHAR(32) NOT NULL,
    `trigger` VARCHAR(16) NOT NULL,
    attempt INTEGER NOT NULL DEFAULT '1',
    started_at DATETIME(6),
    finished_at DATETIME(6),
    duration_s FLOAT,
    result VARCHAR(32),
    exit_code INTEGER,
    exit_signal VARCHAR(16),
    outcome VARCHAR(32) NOT NULL,
    meaning TEXT,
    output_tail TEXT,
    cpu_usage_nsec BIGINT,
    memory_peak BIGINT,
    io_read_bytes BIGINT,
    io_write_bytes BIGINT,
    recorded_at DATETIME(6) NOT NULL,
    CONSTRAINT pk_executions PRIMARY KEY (id),
    CONSTRAINT fk_executions_task_id_tasks FOREIGN KEY(task_id) REFERENCES tasks (id) ON DELETE SET NULL,
    CONSTRAINT uq_executions_invocation_id UNIQUE (invocation_id)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE INDEX ix_executions_outcome_started ON executions (outcome, started_at);

CREATE INDEX ix_executions_started ON executions (started_at);

CREATE INDEX ix_executions_task_started ON executions (task_name, started_at);

INSERT INTO alembic_version (version_num) VALUES ('0001');

-- Running upgrade 0001 -> 0002

ALTER TABLE users ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT '0';

ALTER TABLE users ADD COLUMN locked_until DATETIME(6);

CREATE TABLE api_tokens (
    id INTEGER NOT NULL AUTO_INCREMENT,
    user_id INTEGER NOT NULL,
    name VARCHAR(64) NOT NULL,
    token_hash VARCHAR(64) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    last_used_at DATETIME(6),
    CONSTRAINT pk_api_tokens PRIMARY KEY (id),
    CONSTRAINT fk_api_tokens_user_id_users FOREIGN KEY(user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT uq_api_tokens_token_hash UNIQUE (token_hash)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE INDEX ix_executions_task_outcome_started ON executions (task_name, outcome, started_at);

UPDATE alembic_version SET version_num='0002' WHERE alembic_version.version_num = '0001';

-- Running upgrade 0002 -> 0003

ALTER TABLE users ADD COLUMN must_change_password BOOL NOT NULL DEFAULT false;

UPDATE alembic_version SET version_num='0003' WHERE alembic_version.version_num = '0002';

-- Running upgrade 0003 -> 0004

CREATE TABLE outbox (
    id INTEGER NOT NULL AUTO_INCREMENT,
    alert_id INTEGER,
    task_name VARCHAR(64),
    kind VARCHAR(32) NOT NULL,
    severity VARCHAR(16) NOT NULL,
    title VARCHAR(255) NOT NULL,
    text_body TEXT NOT NULL,
    html_body TEXT NOT NULL,
    channels TEXT NOT NULL,
    state VARCHAR(16) NOT NULL,
    attempts INTEGER NOT NULL DEFAULT '0',
    created_at DATETIME(6) NOT NULL,
    next_attempt_at DATETIME(6) NOT NULL,
    lease_until DATETIME(6),
    sent_at DATETIME(6),
    sent_via TEXT,
    last_error TEXT,
    CONSTRAINT pk_outbox PRIMARY KEY (id)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE INDEX ix_outbox_state_next ON outbox (state, next_attempt_at);

CREATE INDEX ix_outbox_alert ON outbox (alert_id);

ALTER TABLE executions ADD COLUMN lines_dropped INTEGER;

UPDATE alembic_version SET version_num='0004' WHERE alembic_version.version_num = '0003';

-- Running upgrade 0004 -> 0006

ALTER TABLE tasks ADD COLUMN stdin TEXT;

UPDATE alembic_version SET version_num='0006' WHERE alembic_version.version_num = '0004';

-- Running upgrade 0006 -> 0005

UPDATE tasks SET run_user = 'root' WHERE run_user IS NULL OR run_user = '';

ALTER TABLE tasks MODIFY run_user VARCHAR(32) NOT NULL;

ALTER TABLE tasks ADD COLUMN revision BIGINT NOT NULL DEFAULT '0';

ALTER TABLE tasks ADD COLUMN signature VARCHAR(80) NOT NULL DEFAULT '';

CREATE TABLE sessions (
    id INTEGER NOT NULL AUTO_INCREMENT,
    token_hash VARCHAR(64) NOT NULL,
    user_id INTEGER NOT NULL,
    created_at DATETIME(6) NOT NULL,
    last_seen_at DATETIME(6) NOT NULL,
    CONSTRAINT pk_sessions PRIMARY KEY (id),
    CONSTRAINT fk_sessions_user_id_users FOREIGN KEY(user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT uq_sessions_token_hash UNIQUE (token_hash)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE INDEX ix_sessions_user_id ON sessions (user_id);

UPDATE alembic_version SET version_num='0005' WHERE alembic_version.version_num = '0006';

-- Running upgrade 0005 -> 0008

ALTER TABLE tasks ADD COLUMN hosts TEXT NOT NULL DEFAULT '["*"]';

ALTER TABLE tasks ADD COLUMN placement VARCHAR(8) NOT NULL DEFAULT 'each';

ALTER TABLE tasks ADD COLUMN if_db_down VARCHAR(8) NOT NULL DEFAULT 'run';

ALTER TABLE executions ADD COLUMN host VARCHAR(64);

ALTER TABLE alerts ADD COLUMN host VARCHAR(64);

CREATE TABLE hosts (
    name VARCHAR(64) NOT NULL,
    version VARCHAR(32) NOT NULL,
    watchdog_state VARCHAR(16) NOT NULL,
    registered_at DATETIME(6) NOT NULL,
    started_at DATETIME(6) NOT NULL,
    last_seen_at DATETIME(6) NOT NULL,
    CONSTRAINT pk_hosts PRIMARY KEY (name)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE claims (
    id BIGINT NOT NULL AUTO_INCREMENT,
    claim_key VARCHAR(128) NOT NULL,
    slot DATETIME(6) NOT NULL,
    host VARCHAR(64) NOT NULL,
    invocation_id VARCHAR(32),
    claimed_at DATETIME(6) NOT NULL,
    CONSTRAINT pk_claims PRIMARY KEY (id),
    CONSTRAINT uq_claims_claim_key_slot UNIQUE (claim_key, slot)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE INDEX ix_claims_claimed_at ON claims (claimed_at);

UPDATE alembic_version SET version_num='0008' WHERE alembic_version.version_num = '0005';

-- Running upgrade 0008 -> 0009

ALTER TABLE tasks ADD COLUMN after_tasks TEXT;

UPDATE alembic_version SET version_num='0009' WHERE alembic_version.version_num = '0008';

-- Running upgrade 0009 -> 0007

CREATE TABLE run_totals (
    task_name VARCHAR(64) NOT NULL,
    outcome VARCHAR(32) NOT NULL,
    runs BIGINT NOT NULL DEFAULT '0',
    duration_count BIGINT NOT NULL DEFAULT '0',
    duration_sum_s DOUBLE NOT NULL DEFAULT '0',
    le_1 BIGINT NOT NULL DEFAULT '0',
    le_5 BIGINT NOT NULL DEFAULT '0',
    le_15 BIGINT NOT NULL DEFAULT '0',
    le_60 BIGINT NOT NULL DEFAULT '0',
    le_300 BIGINT NOT NULL DEFAULT '0',
    le_900 BIGINT NOT NULL DEFAULT '0',
    le_3600 BIGINT NOT NULL DEFAULT '0',
    le_14400 BIGINT NOT NULL DEFAULT '0',
    last_started_at DATETIME(6),
    CONSTRAINT pk_run_totals PRIMARY KEY (task_name, outcome)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

INSERT INTO run_totals (task_name, outcome, runs, duration_count, duration_sum_s, le_1, le_5, le_15, le_60, le_300, le_900, le_3600, le_14400, last_started_at) SELECT task_name, outcome, COUNT(*), COUNT(duration_s), COALESCE(SUM(duration_s), 0), SUM(CASE WHEN duration_s <= 1 THEN 1 ELSE 0 END), SUM(CASE WHEN duration_s > 1 AND duration_s <= 5 THEN 1 ELSE 0 END), SUM(CASE WHEN duration_s > 5 AND duration_s <= 15 THEN 1 ELSE 0 END), SUM(CASE WHEN duration_s > 15 AND duration_s <= 60 THEN 1 ELSE 0 END), SUM(CASE WHEN duration_s > 60 AND duration_s <= 300 THEN 1 ELSE 0 END), SUM(CASE WHEN duration_s > 300 AND duration_s <= 900 THEN 1 ELSE 0 END), SUM(CASE WHEN duration_s > 900 AND duration_s <= 3600 THEN 1 ELSE 0 END), SUM(CASE WHEN duration_s > 3600 AND duration_s <= 14400 THEN 1 ELSE 0 END), MAX(COALESCE(started_at, recorded_at)) FROM executions WHERE outcome <> 'running' GROUP BY task_name, outcome;

UPDATE run_totals SET runs = runs + (SELECT COALESCE(SUM(d.successes), 0) FROM task_daily_stats d WHERE d.task_name = run_totals.task_name) WHERE outcome = 'success';

INSERT INTO run_totals (task_name, outcome, runs) SELECT task_name, 'success', SUM(successes) FROM task_daily_stats WHERE task_name NOT IN (SELECT task_name FROM run_totals WHERE outcome = 'success') GROUP BY task_name HAVING SUM(successes) > 0;

UPDATE run_totals SET runs = runs + (SELECT COALESCE(SUM(d.failures), 0) FROM task_daily_stats d WHERE d.task_name = run_totals.task_name) WHERE outcome = 'failed';

INSERT INTO run_totals (task_name, outcome, runs) SELECT task_name, 'failed', SUM(failures) FROM task_daily_stats WHERE task_name NOT IN (SELECT task_name FROM run_totals WHERE outcome = 'failed') GROUP BY task_name HAVING SUM(failures) > 0;

UPDATE alembic_version SET version_num='0007' WHERE alembic_version.version_num = '0009';

-- Running upgrade 0007 -> 0013

ALTER TABLE tasks ADD COLUMN retry_backoff DOUBLE NOT NULL DEFAULT '1';

ALTER TABLE tasks ADD COLUMN retry_max_delay_s INTEGER;

UPDATE alembic_version SET version_num='0013' WHERE alembic_version.version_num = '0007';

-- Running upgrade 0013 -> 0010

ALTER TABLE tasks ADD COLUMN concurrency_group VARCHAR(64);

ALTER TABLE executions ADD COLUMN wait_seconds FLOAT;

UPDATE alembic_version SET version_num='0010' WHERE alembic_version.version_num = '0013';

-- Running upgrade 0010 -> 0011

CREATE TABLE windows (
    name VARCHAR(64) NOT NULL,
    when_text VARCHAR(128) NOT NULL,
    timezone VARCHAR(64) NOT NULL,
    tasks TEXT NOT NULL,
    categories TEXT NOT NULL,
    actions TEXT NOT NULL,
    description VARCHAR(255) NOT NULL DEFAULT '',
    created_at DATETIME(6) NOT NULL,
    created_by VARCHAR(64) NOT NULL,
    CONSTRAINT pk_windows PRIMARY KEY (name)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

ALTER TABLE outbox ADD COLUMN held_for VARCHAR(64);

UPDATE alembic_version SET version_num='0011' WHERE alembic_version.version_num = '0010';

-- Running upgrade 0011 -> 0012

CREATE TABLE run_totals_new (
    task_name VARCHAR(64) NOT NULL,
    host VARCHAR(64) NOT NULL DEFAULT '',
    outcome VARCHAR(32) NOT NULL,
    runs BIGINT NOT NULL DEFAULT '0',
    duration_count BIGINT NOT NULL DEFAULT '0',
    duration_sum_s DOUBLE NOT NULL DEFAULT '0',
    le_1 BIGINT NOT NULL DEFAULT '0',
    le_5 BIGINT NOT NULL DEFAULT '0',
    le_15 BIGINT NOT NULL DEFAULT '0',
    le_60 BIGINT NOT NULL DEFAULT '0',
    le_300 BIGINT NOT NULL DEFAULT '0',
    le_900 BIGINT NOT NULL DEFAULT '0',
    le_3600 BIGINT NOT NULL DEFAULT '0',
    le_14400 BIGINT NOT NULL DEFAULT '0',
    last_started_at DATETIME(6),
    CONSTRAINT pk_run_totals PRIMARY KEY (task_name, host, outcome)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

INSERT INTO run_totals_new (task_name, host, outcome, runs, duration_count, duration_sum_s, le_1, le_5, le_15, le_60, le_300, le_900, le_3600, le_14400, last_started_at) SELECT task_name, host, outcome, COUNT(*), COUNT(duration_s), COALESCE(SUM(duration_s), 0), SUM(CASE WHEN duration_s <= 1 THEN 1 ELSE 0 END), SUM(CASE WHEN duration_s > 1 AND duration_s <= 5 THEN 1 ELSE 0 END), SUM(CASE WHEN duration_s > 5 AND duration_s <= 15 THEN 1 ELSE 0 END), SUM(CASE WHEN duration_s > 15 AND duration_s <= 60 THEN 1 ELSE 0 END), SUM(CASE WHEN duration_s > 60 AND duration_s <= 300 THEN 1 ELSE 0 END), SUM(CASE WHEN duration_s > 300 AND duration_s <= 900 THEN 1 ELSE 0 END), SUM(CASE WHEN duration_s > 900 AND duration_s <= 3600 THEN 1 ELSE 0 END), SUM(CASE WHEN duration_s > 3600 AND duration_s <= 14400 THEN 1 ELSE 0 END), MAX(COALESCE(started_at, recorded_at)) FROM executions WHERE outcome NOT IN ('running', 'ran-elsewhere', 'skipped', 'skipped-window', 'not-run') AND host IS NOT NULL AND host <> '' GROUP BY task_name, host, outcome;

INSERT INTO run_totals_new (task_name, host, outcome, runs, duration_count, duration_sum_s, le_1, le_5, le_15, le_60, le_300, le_900, le_3600, le_14400, last_started_at) SELECT o.task_name, '', o.outcome, o.runs - COALESCE(n.runs, 0), o.duration_count - COALESCE(n.duration_count, 0), o.duration_sum_s - COALESCE(n.duration_sum_s, 0), o.le_1 - COALESCE(n.le_1, 0), o.le_5 - COALESCE(n.le_5, 0), o.le_15 - COALESCE(n.le_15, 0), o.le_60 - COALESCE(n.le_60, 0), o.le_300 - COALESCE(n.le_300, 0), o.le_900 - COALESCE(n.le_900, 0), o.le_3600 - COALESCE(n.le_3600, 0), o.le_14400 - COALESCE(n.le_14400, 0), CASE WHEN n.runs IS NULL THEN o.last_started_at ELSE u.last_started_at END FROM run_totals o LEFT JOIN (SELECT task_name, outcome, SUM(runs) AS runs, SUM(duration_count) AS duration_count, SUM(duration_sum_s) AS duration_sum_s, SUM(le_1) AS le_1, SUM(le_5) AS le_5, SUM(le_15) AS le_15, SUM(le_60) AS le_60, SUM(le_300) AS le_300, SUM(le_900) AS le_900, SUM(le_3600) AS le_3600, SUM(le_14400) AS le_14400 FROM run_totals_new GROUP BY task_name, outcome) n ON n.task_name = o.task_name AND n.outcome = o.outcome LEFT JOIN (SELECT task_name, outcome, MAX(COALESCE(started_at, recorded_at)) AS last_started_at FROM executions WHERE outcome <> 'running' AND (host IS NULL OR host = '') GROUP BY task_name, outcome) u ON u.task_name = o.task_name AND u.outcome = o.outcome WHERE o.runs > COALESCE(n.runs, 0);

UPDATE run_totals_new SET duration_sum_s = 0 WHERE duration_count = 0;

DROP TABLE run_totals;

ALTER TABLE run_totals_new RENAME TO run_totals;

UPDATE alembic_version SET version_num='0012' WHERE alembic_version.version_num = '0011';

-- Running upgrade 0012 -> 0014

CREATE INDEX ix_executions_task_started_id_outcome ON executions (task_name, started_at, id, outcome);

DROP INDEX ix_executions_task_started ON executions;

UPDATE alembic_version SET version_num='0014' WHERE alembic_version.version_num = '0012';

-- Running upgrade 0014 -> 0015

ALTER TABLE executions ADD COLUMN alert_pending BOOL NOT NULL DEFAULT true;

UPDATE executions SET alert_pending = 0 WHERE outcome <> 'running' AND id <= (SELECT value FROM state WHERE `key` = 'alerts.last_run_id');

CREATE INDEX ix_executions_alert_pending ON executions (alert_pending, id);

UPDATE alembic_version SET version_num='0015' WHERE alembic_version.version_num = '0014';

