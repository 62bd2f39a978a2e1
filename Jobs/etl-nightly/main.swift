import ETLJobs

await runJob(NightlyCommand.self)
