# Where a guest's time goes (vm/bench): the fixed cost of one call through vsock, and the
# rate of a bulk upload through vsock next to the same bytes copied over a Unix socket
# inside the guest (what the emulated CPU alone can move).
vaccel bench noop -n "${vaccel_calls:-300}"
vaccel bench upload --mib "${vaccel_mib:-4}"
