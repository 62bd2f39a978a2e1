import ETLJobs

await runJob(NormalizeCommand.self)
