"""The box's hardware: data areas and USB storage, board sensors, the systemd watchdog."""
