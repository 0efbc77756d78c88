"""Prometheus metrics every service exposes on `/metrics` (prometheus_client, one registry per process).

Names follow Prometheus conventions (`cc_` prefix, `_total` counters, seconds). Labels never carry personal
data or unbounded values: service, topic, message type, outcome, channel, estate is deliberately absent.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

RECEIVED = Counter("cc_complaints_received_total", "Complaints accepted at an intake (duplicates excluded)",
                   ["service", "channel"])
REJECTED = Counter("cc_submissions_rejected_total", "Submissions refused and kept for review", ["service", "channel"])
PROCESSED = Counter("cc_messages_processed_total", "Kafka messages a consumer finished",
                    ["service", "topic", "type", "outcome"])  # outcome: ok | dlq | redeliver
RETRIES = Counter("cc_message_retries_total", "Transient failures retried in place", ["service", "topic"])
DLQ = Counter("cc_dlq_messages_total", "Messages parked in a dead-letter topic", ["service", "topic"])
HANDLER_SECONDS = Histogram("cc_handler_seconds", "Time to handle one message, retries included",
                            ["service", "topic"],
                            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120))
BATCHES = Counter("cc_batches_total", "Batches a batch consumer took", ["service"])
BATCH_MESSAGES = Counter("cc_batch_messages_total", "Messages in those batches", ["service"])
BATCH_CASES = Counter("cc_batch_cases_total", "Cases in those batches: messages / cases is how many of a case's "
                      "messages were handled together", ["service"])
LAG = Gauge("cc_consumer_lag", "Messages behind the partition's end after the last one handled",
            ["service", "topic", "partition"])
SLA_WARNINGS = Counter("cc_sla_warnings_total", "Deadline warnings fired (80 % of a clock)", ["clock"])
SLA_BREACHES = Counter("cc_sla_escalations_total", "Escalations fired at 100/150/200 % of a clock",
                       ["clock", "level"])
OUTBOX_PUBLISHED = Counter("cc_outbox_published_total", "Outbox entries published", ["collection"])
DB_COMMANDS = Counter("cc_db_commands_total", "Commands sent to the MongoDB-wire server, by database and command",
                      ["database", "command"])
DB_STATEMENTS = Counter("cc_db_statements_total", "Statements in those commands: each document a bulk insert, "
                        "update or delete carries; one for any other command", ["database", "command"])


def exposition() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST
