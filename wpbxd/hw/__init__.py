"""The box's hardware: data areas and USB storage, serial port, board sensors."""
