"""The application: `create_app`, the one factory (`factory.py`); what it builds from
the settings (`wiring.py`, `channels.py`); the background loops and duties it
starts (`background.py`, `duties.py`). Above every feature: it is where they meet."""
