"""Fax-to-email intake (传真): fax gateway emails over SMTP or from an IMAP mailbox, OCR'd."""
