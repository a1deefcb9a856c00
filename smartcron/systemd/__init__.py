"""The systemd stage: rendering task units, applying them (sync), the D-Bus client, the
journal reader and a private systemd for tests. Importing this package loads nothing heavy:
pystemd is imported by the functions that talk to the bus."""
