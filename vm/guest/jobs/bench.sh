# P4 (vm/bench): classify each photo vaccel_n times through vsock, one line per photo; then
# where a guest's time goes (jobs/rates.sh).
vaccel bench images -n "${vaccel_n:-10}" /opt/vaccel/data/p4/*
. /jobs/rates.sh
