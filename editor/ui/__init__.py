"""Qt widgets. Draws, collects input, turns results into undo commands; never computes an edit."""
