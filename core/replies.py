"""What Mnemo says when it cannot give an answer: one wording for every front door."""

from __future__ import annotations

MODEL_DOWN_REPLY = "Sorry, I can't think right now (my model isn't answering). Please try again in a moment."
STORAGE_DOWN_REPLY = "Sorry, something went wrong on my side. Please try again in a moment."
COMMAND_FAILED_REPLY = "Sorry, I couldn't do that right now. Please try again in a moment."
SWAMPED_REPLY = "I'm swamped right now and couldn't get to this. Please ask me again in a minute."
WITHDRAWN_REPLY = (
    "You asked me to forget everything while I was writing this, so I dropped my answer. "
    "Ask again if you still want one."
)
