import ETLJobs

await runJob(ExportCommand.self)
