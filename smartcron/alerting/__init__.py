"""The alerting stage: which runs raise alerts (policy), the messages with their evidence
(notices), where they go (routing) and how they are sent and retried (delivery)."""
