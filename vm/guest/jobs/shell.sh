# An interactive shell on the serial console (vm/run.sh --job shell).
setsid cttyhack sh
