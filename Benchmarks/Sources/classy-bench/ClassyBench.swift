import ArgumentParser

@main
struct ClassyBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classy-bench",
        abstract: "Load generators and benchmark scenarios for Classy Book (build with -c release).",
        subcommands: [RPCBenchmark.self, FanoutBenchmark.self]
    )
}
