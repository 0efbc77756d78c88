"""Archive (归档): the complete, ordered record of every case, built from every lifecycle event."""
