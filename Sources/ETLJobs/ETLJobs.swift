// ETLJobs
