"""Test suites that ship with nasforge, for its own strategies and for yours."""
