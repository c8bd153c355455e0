"""`JobCancelled`, on its own so that the lowest layers (downloads) can raise it without
importing the job machinery that in turn reaches the model store."""


class JobCancelled(Exception):
    """Raised inside a run by `RunContext.check_cancelled` once cancellation was asked for."""
