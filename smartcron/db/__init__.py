"""The database stage: tables, engines, migrations, and the queries every other stage shares
(tasks, runs, alerts, health checks, state, audit). SQLite and MySQL/MariaDB alike."""
