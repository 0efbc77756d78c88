"""Phone intake (电话投诉): finished calls from the call-center's CTI system, with their transcripts."""
