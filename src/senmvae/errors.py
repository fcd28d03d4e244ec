"""Errors meant for the user: the CLI prints their message (no traceback) and exits non-zero."""


class UserError(Exception):
    """Bad input, a missing file, an impossible request: something the user can fix.

    The message must name the file or setting at fault and say what to do.
    """


def torch_load_problem(err: Exception) -> str:
    """Why ``torch.load(weights_only=True)`` failed, in one line for the user.

    torch's own message advises loading again with ``weights_only=False``, which runs whatever
    code the file holds; that advice is left out.
    """
    text = " ".join(str(err).split())
    if isinstance(err, PermissionError):
        return "permission denied; make the file readable"
    if "Unsupported global" in text:
        return "it holds pickled objects other than tensors, which are refused for safety"
    detail = "" if not text or "weights_only" in text else f" ({text.split('. ')[0][:200]})"
    return f"it is truncated or damaged, or not a PyTorch checkpoint{detail}"
