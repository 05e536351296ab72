"""Receipt vectors shared by the Python verifier and the page's (tests/js/)."""
