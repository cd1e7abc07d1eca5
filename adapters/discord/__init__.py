"""Discord front door: discord.py client, pure translation, and the Service that runs it."""
