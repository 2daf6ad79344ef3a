"""Browser end-to-end tests of the web client (Debian chromium + a real `pairchat up`)."""
