"""Studies, sessions, availability and bookings: what researchers set up and participants book.

Modules: ``workspaces`` (teams and roles), ``studies`` (studies, sessions and their appointment settings),
``rules`` (availability rules ↔ the domain), ``availability`` (offered slots from the database),
``booking`` (book, cancel, move — the no-conflict guarantee), ``links`` (signed participant links),
``outbox`` (calendar events and emails owed, retried), ``notify`` (the participant emails),
``disconnect`` (deleting accounts without losing bookings), ``context`` (what these services need).
"""
