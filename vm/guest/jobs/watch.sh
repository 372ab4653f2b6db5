# One long-lived client calling noop every 250 ms for 15 s, reporting every result: the
# host restarts the agent meanwhile, and the client must see ESESS, then work again.
vaccel noop --watch 250 -n 60
