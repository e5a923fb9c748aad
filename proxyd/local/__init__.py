"""Local model servers proxyd runs itself: started by the first request that needs one, stopped
when idle or to make room for another, restarted after a crash."""
