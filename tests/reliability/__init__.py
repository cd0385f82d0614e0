"""Reliability suite: real daemons and clients under races, crashes, bad input and hostile peers."""
