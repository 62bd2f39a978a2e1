import ETLJobs

await runJob(ExtractCommand.self)
