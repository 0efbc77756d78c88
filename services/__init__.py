"""The complaint center services, one package each."""
