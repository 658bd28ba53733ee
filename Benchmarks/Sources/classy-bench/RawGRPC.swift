import ArgumentParser
import Foundation
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix

/// How the load generator's calls are made.
enum GeneratorClient: String, ExpressibleByArgument, Sendable {
    /// gRPC spoken straight on SwiftNIO's HTTP/2 (``RawGRPC``): the lightest client.
    case raw
    /// grpc-swift's client, as an app would call.
    case grpc
}

/// The fanout benchmark's streaming gRPC client, written straight on SwiftNIO's HTTP/2 with a stream channel per
/// call and no async sequence between the socket and the answer: each stream's frames are read on its event loop
/// and the 5-byte gRPC message prefix is parsed there (the rpc benchmark's unary calls use ``UnaryFrameClient``).
///
/// The load generator shares the server's two cores, so the cheaper its calls are, the more the figures measure
/// the server rather than the client (as h2load does). The server cannot tell these calls from any other gRPC
/// client's: same path, headers, length-prefixed messages, flow control and trailers.
enum RawGRPC {
    /// One HTTP/2 connection and the means to open streams on it.
    struct Connection: Sendable {
        let channel: any Channel
        let multiplexer: NIOHTTP2Handler.StreamMultiplexer
    }

    /// Opens an HTTP/2 connection to `host:port` with windows large enough never to hold a stream back.
    static func connect(host: String, port: Int) async throws -> Connection {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    var connection = NIOHTTP2Handler.ConnectionConfiguration()
                    connection.initialSettings = [
                        HTTP2Setting(parameter: .maxConcurrentStreams, value: 4096),
                        HTTP2Setting(parameter: .initialWindowSize, value: 1 << 20),
                    ]
                    var stream = NIOHTTP2Handler.StreamConfiguration()
                    stream.targetWindowSize = 1 << 20
                    let multiplexer = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                        mode: .client, connectionConfiguration: connection, streamConfiguration: stream
                    ) { inbound in inbound.close() }
                    return Connection(channel: channel, multiplexer: multiplexer)
                }
            }
    }

    /// Opens one server-streaming call of `path` with `message` (a serialized request) and `metadata`; the
    /// returned future completes when `expected` events arrived (or `deadline` passed), with what was received.
    static func subscribe(
        on connection: Connection, authority: String, path: String, metadata: [(String, String)], message: [UInt8],
        expected: Int, deadline: NIODeadline
    ) -> EventLoopFuture<FanoutBenchmark.Receipts> {
        let done = connection.channel.eventLoop.makePromise(of: FanoutBenchmark.Receipts.self)
        call(on: connection, authority: authority, path: path, metadata: metadata, message: message, failing: done) {
            ReceiptStreamHandler(expected: expected, deadline: deadline, done: done)
        }
        return done.futureResult
    }

    /// Opens a stream with `handler` reading it, then sends the request headers and the one request message.
    private static func call<Value, Handler: ChannelInboundHandler>(
        on connection: Connection, authority: String, path: String, metadata: [(String, String)], message: [UInt8],
        failing promise: EventLoopPromise<Value>,
        handler: @escaping @Sendable () -> Handler
    ) {
        var headers: HPACKHeaders = [
            ":method": "POST", ":scheme": "http", ":path": path, ":authority": authority,
            "content-type": "application/grpc", "te": "trailers",
        ]
        for (name, value) in metadata { headers.add(name: name, value: value) }
        var body = ByteBuffer()
        body.reserveCapacity(5 + message.count)
        body.writeInteger(UInt8(0))
        body.writeInteger(UInt32(message.count))
        body.writeBytes(message)
        let request = (headers, body)
        connection.multiplexer.createStreamChannel { stream in
            stream.eventLoop.makeCompletedFuture { try stream.pipeline.syncOperations.addHandler(handler()) }
        }.whenComplete { result in
            switch result {
            case .success(let stream):
                stream.write(HTTP2Frame.FramePayload.headers(.init(headers: request.0)), promise: nil)
                stream.writeAndFlush(
                    HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(request.1), endStream: true)), promise: nil)
            case .failure(let error):
                promise.fail(error)
            }
        }
    }

    struct StreamFailed: Error, CustomStringConvertible {
        var description: String
    }
}

/// Reads one StreamSecurityEvents response stream: every message's receipt, until `expected` events arrived.
final class ReceiptStreamHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    private let expected: Int
    private let deadline: NIODeadline
    private let done: EventLoopPromise<FanoutBenchmark.Receipts>
    private var receipts = FanoutBenchmark.Receipts()
    private var pending = ByteBuffer()
    private var finished = false

    init(expected: Int, deadline: NIODeadline, done: EventLoopPromise<FanoutBenchmark.Receipts>) {
        self.expected = expected
        self.deadline = deadline
        self.done = done
        receipts.latencies.reserveCapacity(expected)
        receipts.arrivals.reserveCapacity(expected)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .data(let frame):
            guard case .byteBuffer(var bytes) = frame.data else { return }
            pending.writeBuffer(&bytes)
            readMessages(context: context)
        case .headers(let frame) where frame.endStream:
            // Trailers (or a trailers-only answer): the stream ended before every event arrived.
            let status = frame.headers.first(name: "grpc-status") ?? "?"
            let message = frame.headers.first(name: "grpc-message") ?? ""
            finish(context: context, failure: RawGRPC.StreamFailed(description: "grpc-status \(status) \(message)"))
        default:
            break
        }
    }

    /// Takes every complete length-prefixed message out of `pending`.
    private func readMessages(context: ChannelHandlerContext) {
        while !finished, let length = pending.getInteger(at: pending.readerIndex + 1, as: UInt32.self),
            pending.readableBytes >= 5 + Int(length)
        {
            pending.moveReaderIndex(forwardBy: 5)
            let receipt = pending.readWithUnsafeReadableBytes { bytes in
                (
                    Int(length),
                    Result {
                        try ReceiptDeserializer.receipt(from: UnsafeRawBufferPointer(rebasing: bytes[..<Int(length)]))
                    }
                )
            }
            switch receipt {
            case .success(let receipt) where receipt.sequence != 0:
                let now = Date().timeIntervalSince1970
                receipts.latencies.append(now - receipt.time)
                receipts.arrivals.append((receipt.sequence, now))
                receipts.lastReceipt = DispatchTime.now().uptimeNanoseconds
                if receipts.latencies.count == expected || NIODeadline.now() > deadline { finish(context: context) }
            case .success:
                break  // a heartbeat
            case .failure(let error):
                finish(context: context, failure: error)
            }
        }
        pending.discardReadBytes()
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(context: context, failure: RawGRPC.StreamFailed(description: "stream closed early"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(context: context, failure: error)
    }

    private func finish(context: ChannelHandlerContext, failure: (any Error)? = nil) {
        guard !finished else { return }
        finished = true
        if let failure {
            done.fail(failure)
        } else {
            done.succeed(receipts)
        }
        context.close(promise: nil)
    }
}
