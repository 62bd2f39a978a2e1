import ETLJobs

await runJob(LoadCommand.self)
