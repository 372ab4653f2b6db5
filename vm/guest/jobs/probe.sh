# Used by vm/run.sh to see whether a guest boots under KVM here.
true
