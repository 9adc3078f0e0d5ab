"""Who is calling and what they may do: API keys and ID tokens (``authentication``, ``tokens``),
the client databases a user or key may use (``permissions``), throttling, the login route
(``views``), and the writes that create keys and grant databases (``services``)."""
