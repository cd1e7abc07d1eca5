"""Discord front door: the discord.py client (client, interactions, replies, sdk), pure translation
(translate, privacy, render, commands), place look-ups (places), options, and the Service that runs it."""
