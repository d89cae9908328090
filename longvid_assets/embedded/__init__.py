"""The embedded default backends' pure logic: CPU, offline, seconds."""
