"""Outside systems played by local servers, for tests that would otherwise need the network."""
