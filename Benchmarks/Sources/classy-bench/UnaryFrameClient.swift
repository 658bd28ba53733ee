import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix

/// The rpc benchmark's unary gRPC client: each call is two HTTP/2 frames written on the connection itself and the
/// answer's frames read there, with no stream channel, pipeline or promise chain per call.
///
/// It shares the server's two cores, so every microsecond it spends per call is taken from the server being
/// measured: during Login the stream-channel client (``RawGRPC``) cost about 250 µs of CPU per call, most of it
/// NIO's per-stream machinery running on caches Argon2 just emptied. The server cannot tell these calls from any
/// other gRPC client's: same preface and settings, path, headers, length-prefixed message, and trailers read for
/// the status; the connection's receive window is handed back as answers are read.
struct UnaryFrameClient: Sendable {
    let channel: any Channel
    private let handler: NIOLoopBound<UnaryFrameHandler>

    /// The receive window of the connection and of every stream (HTTP/2 starts both at 64 KiB).
    static let window = 1 << 20

    /// Opens an HTTP/2 connection to `host:port`.
    static func connect(host: String, port: Int) async throws -> UnaryFrameClient {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = UnaryFrameHandler()
                    try channel.pipeline.syncOperations.addHandlers([
                        NIOHTTP2Handler(
                            mode: .client,
                            initialSettings: [
                                HTTP2Setting(parameter: .maxConcurrentStreams, value: 4096),
                                HTTP2Setting(parameter: .initialWindowSize, value: window),
                            ]),
                        handler,
                    ])
                    return UnaryFrameClient(
                        channel: channel, handler: NIOLoopBound(handler, eventLoop: channel.eventLoop))
                }
            }
    }

    /// The request headers of a call of `path` with `metadata`, to build once and reuse for every call.
    static func headers(authority: String, path: String, metadata: [(String, String)]) -> HPACKHeaders {
        var headers: HPACKHeaders = [
            ":method": "POST", ":scheme": "http", ":path": path, ":authority": authority,
            "content-type": "application/grpc", "te": "trailers",
        ]
        for (name, value) in metadata { headers.add(name: name, value: value) }
        return headers
    }

    /// Makes one unary call with `headers` and `message` (a serialized request) on the connection's event loop;
    /// the future completes with the serialized response once the trailers said OK, or fails with the status.
    func unary(headers: HPACKHeaders, message: [UInt8]) -> EventLoopFuture<ByteBuffer> {
        let promise = channel.eventLoop.makePromise(of: ByteBuffer.self)
        var body = channel.allocator.buffer(capacity: 5 + message.count)
        body.writeInteger(UInt8(0))
        body.writeInteger(UInt32(message.count))
        body.writeBytes(message)
        if channel.eventLoop.inEventLoop {
            handler.value.start(headers: headers, body: body, promise: promise)
        } else {
            let (handler, request) = (self.handler, body)
            channel.eventLoop.execute { handler.value.start(headers: headers, body: request, promise: promise) }
        }
        return promise.futureResult
    }
}

/// Runs the unary calls of one connection: opens each on the next client stream id, collects its answer's DATA,
/// and completes it on its trailers (or fails it on a reset, a GOAWAY, an error or the connection closing).
final class UnaryFrameHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    private struct Call {
        var body = ByteBuffer()
        let promise: EventLoopPromise<ByteBuffer>
    }

    private var context: ChannelHandlerContext?
    private var calls: [HTTP2StreamID: Call] = [:]
    private var nextStreamID = HTTP2StreamID(1)
    /// Bytes of DATA read since the connection window was last handed back.
    private var unreturnedBytes = 0
    /// Why calls can no longer be made, once the connection failed or closed.
    private var failure: RawGRPC.StreamFailed?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelActive(context: ChannelHandlerContext) {
        // HTTP/2 has no setting for the connection's own window: widen it from 64 KiB with an update.
        let increment = UnaryFrameClient.window - 65_535
        context.writeAndFlush(
            wrapOutboundOut(HTTP2Frame(streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: increment))),
            promise: nil)
        context.fireChannelActive()
    }

    /// Opens a stream and writes the call's headers and its one message (on the event loop).
    func start(headers: HPACKHeaders, body: ByteBuffer, promise: EventLoopPromise<ByteBuffer>) {
        guard let context, failure == nil else {
            return promise.fail(failure ?? RawGRPC.StreamFailed(description: "the connection is not open"))
        }
        let streamID = nextStreamID
        nextStreamID = HTTP2StreamID(Int(streamID) + 2)
        calls[streamID] = Call(promise: promise)
        context.write(
            wrapOutboundOut(HTTP2Frame(streamID: streamID, payload: .headers(.init(headers: headers)))), promise: nil)
        context.writeAndFlush(
            wrapOutboundOut(
                HTTP2Frame(streamID: streamID, payload: .data(.init(data: .byteBuffer(body), endStream: true)))),
            promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.payload {
        case .data(let payload):
            guard case .byteBuffer(var bytes) = payload.data else { return }
            // Flow control counts the padding and its length byte too.
            unreturnedBytes += bytes.readableBytes + (payload.paddingBytes.map { $0 + 1 } ?? 0)
            calls[frame.streamID]?.body.writeBuffer(&bytes)
            if unreturnedBytes >= UnaryFrameClient.window / 4 {
                context.writeAndFlush(
                    wrapOutboundOut(
                        HTTP2Frame(streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: unreturnedBytes))),
                    promise: nil)
                unreturnedBytes = 0
            }
        case .headers(let payload) where payload.endStream:
            guard let call = calls.removeValue(forKey: frame.streamID) else { return }
            call.promise.completeWith(Self.answer(trailers: payload.headers, body: call.body))
        case .rstStream(let code):
            calls.removeValue(forKey: frame.streamID)?.promise.fail(
                RawGRPC.StreamFailed(description: "stream reset by the server: \(code)"))
        case .goAway(_, let code, _):
            failAll(RawGRPC.StreamFailed(description: "GOAWAY from the server: \(code)"))
        default:
            break
        }
    }

    /// The response message, when the trailers say OK and the body holds one whole length-prefixed message.
    private static func answer(trailers: HPACKHeaders, body: ByteBuffer) -> Result<ByteBuffer, any Error> {
        let status = trailers.first(name: "grpc-status") ?? "?"
        guard status == "0" else {
            let message = trailers.first(name: "grpc-message") ?? ""
            return .failure(RawGRPC.StreamFailed(description: "grpc-status \(status) \(message)"))
        }
        guard let length = body.getInteger(at: body.readerIndex + 1, as: UInt32.self),
            let message = body.getSlice(at: body.readerIndex + 5, length: Int(length))
        else {
            return .failure(RawGRPC.StreamFailed(description: "OK without a whole response message"))
        }
        return .success(message)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(RawGRPC.StreamFailed(description: "the connection closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(RawGRPC.StreamFailed(description: "connection error: \(error)"))
        context.close(promise: nil)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        failAll(RawGRPC.StreamFailed(description: "the connection closed"))
        self.context = nil
    }

    private func failAll(_ error: RawGRPC.StreamFailed) {
        if failure == nil { failure = error }
        let pending = calls
        calls.removeAll()
        for call in pending.values { call.promise.fail(error) }
    }
}
