"""Web/app form intake (网上投诉): accepts complaints over HTTP on port 8001."""
