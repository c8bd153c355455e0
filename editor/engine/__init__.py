"""Runs edits as cancellable background jobs; owns threads, devices and model files."""
