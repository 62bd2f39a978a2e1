import ETLJobs

await runJob(FeaturesCommand.self)
