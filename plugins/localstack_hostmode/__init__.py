"""LocalStack plugins for host mode: no Docker, no Java."""
