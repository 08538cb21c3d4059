using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

// Issue 25, wave 12: can .NET meet "within 0.1 ms of nginx at c=1" at all, and which side of the relay has to change?
// Relays that parse nothing, like the framework floor (bench/load/Floor), each built with less of the frameworks:
//   RAW_MODE=threads   no Kestrel, no HttpClient: a blocking thread per client connection with its own kept-alive
//                      upstream socket; the request goes up as read, the answer comes down as read (chunk framing kept)
//   RAW_MODE=kestrel   Kestrel in front, as the product has it; the upstream over a raw socket read synchronously on the
//                      request's thread (no HttpClient, no hand-off back from the socket engine)
//   RAW_MODE=kasync    Kestrel in front; the upstream over a raw socket read with async/await (what the product can ship:
//                      no thread is blocked)
//   RAW_MODE=httpsync  Kestrel in front; HttpClient's synchronous Send and stream reads
// Measured beside nginx and the proxy with bench/load/latency.sh; the figures are in docs/performance.md.
var mode = Environment.GetEnvironmentVariable("RAW_MODE") ?? "threads";
if (mode is not ("threads" or "kestrel" or "kasync" or "httpsync"))
{
    Console.Error.WriteLine($"RAW_MODE={mode}: expected threads, kestrel, kasync or httpsync");
    return 64;
}

var upstreamUri = new Uri(Environment.GetEnvironmentVariable("LMSTUDIO_URL") ?? "http://127.0.0.1:1234");
var upstream = new IPEndPoint(IPAddress.Loopback, upstreamUri.Port);
var port = int.Parse(Environment.GetEnvironmentVariable("OLLAMA_PORT") ?? "11434", System.Globalization.CultureInfo.InvariantCulture);
var tags = Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 35\r\n\r\n{\"models\":[{\"name\":\"bench-model\"}]}");

if (mode == "threads")
{
    using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
    listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
    listener.Listen(512);
    while (true)
    {
        var client = listener.Accept();
        client.NoDelay = true;
        new Thread(() => Serve(client)) { IsBackground = true }.Start();
    }
}

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(o =>
{
    o.AddServerHeader = false;
    o.Listen(IPAddress.Loopback, port);
});
var app = builder.Build();
var pool = new ConcurrentBag<Upstream>();
var invoker = CopilotProxy.Bench.Floor.FloorHandler.Create();
app.MapGet("/api/tags", () => Results.Text("""{"models":[{"name":"bench-model"}]}""", "application/json"));
app.Map("/{**rest}", async ctx =>
{
    var length = (int)(ctx.Request.ContentLength ?? 0);
    var body = new byte[length];
    await ctx.Request.Body.ReadExactlyAsync(body);
    if (mode == "httpsync")
    {
        using var request = new HttpRequestMessage(new HttpMethod(ctx.Request.Method), new Uri(upstreamUri, ctx.Request.Path.Value))
        {
            Version = HttpVersion.Version11,
            Content = new ByteArrayContent(body),
        };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", ctx.Request.ContentType);
        using var response = invoker.Send(request, ctx.RequestAborted);
        ctx.Response.StatusCode = (int)response.StatusCode;
        ctx.Response.ContentType = response.Content.Headers.ContentType?.ToString();
        using var stream = response.Content.ReadAsStream();
        var copy = new byte[16384];
        int read;
        while ((read = stream.Read(copy)) > 0)
        {
            await ctx.Response.Body.WriteAsync(copy.AsMemory(0, read));
        }

        return;
    }

    var head = Encoding.ASCII.GetBytes(
        $"{ctx.Request.Method} {ctx.Request.Path} HTTP/1.1\r\nHost: {upstreamUri.Authority}\r\nContent-Type: {ctx.Request.ContentType}\r\nContent-Length: {length}\r\n\r\n");
    if (!pool.TryTake(out var up))
    {
        up = Upstream.Connect(upstream);
    }

    var isAsync = mode == "kasync";
    if (isAsync)
    {
        await up.Socket.SendAsync(new ArraySegment<byte>[] { new(head), new(body) });
    }
    else
    {
        up.Socket.Send([new ArraySegment<byte>(head), new ArraySegment<byte>(body)]);
    }

    var answer = isAsync ? await up.ReadHeadAsync() : up.ReadHead();
    ctx.Response.StatusCode = answer.Status;
    ctx.Response.ContentType = answer.ContentType;
    var output = new byte[Upstream.BufferSize];
    var start = answer.BodyStart;
    while (true)
    {
        var outLen = 0;
        var done = up.Body(start, output, ref outLen);
        if (outLen > 0)
        {
            await ctx.Response.Body.WriteAsync(output.AsMemory(0, outLen));
        }

        if (done)
        {
            break;
        }

        start = isAsync ? await up.ReceiveMoreAsync() : up.ReceiveMore();
    }

    pool.Add(up);
});
app.Run();
return 0;

void Serve(Socket client)
{
    var buffer = new byte[Upstream.BufferSize];
    var length = 0;
    Upstream? up = null;
    try
    {
        while (true)
        {
            int headEnd;
            while ((headEnd = buffer.AsSpan(0, length).IndexOf("\r\n\r\n"u8)) < 0)
            {
                var n = client.Receive(buffer.AsSpan(length));
                if (n == 0)
                {
                    return;
                }

                length += n;
            }

            var total = headEnd + 4 + (int)Upstream.ContentLength(buffer.AsSpan(0, headEnd));
            while (length < total)
            {
                var n = client.Receive(buffer.AsSpan(length));
                if (n == 0)
                {
                    return;
                }

                length += n;
            }

            if (buffer.AsSpan(0, headEnd).StartsWith("GET /api/tags"u8))
            {
                client.Send(tags);
            }
            else
            {
                up ??= Upstream.Connect(upstream);
                up.Socket.Send(buffer.AsSpan(0, total));
                up.RelayVerbatim(client);
            }

            Buffer.BlockCopy(buffer, total, buffer, 0, length - total);
            length -= total;
        }
    }
    catch (SocketException)
    {
    }
    finally
    {
        client.Dispose();
        up?.Socket.Dispose();
    }
}

readonly record struct Answer(int Status, string? ContentType, int BodyStart);

sealed class Upstream
{
    public const int BufferSize = 65536;
    private readonly byte[] _buffer = new byte[BufferSize];
    private int _length;
    private long _left;
    private bool _chunked;
    private ChunkScanner _scanner;

    private Upstream(Socket socket) => Socket = socket;

    public Socket Socket { get; }

    public static Upstream Connect(IPEndPoint endpoint)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.Connect(endpoint);
        return new Upstream(socket);
    }

    public static long ContentLength(ReadOnlySpan<byte> head)
    {
        var at = IndexOfHeader(head, "content-length:"u8);
        if (at < 0)
        {
            return 0;
        }

        long value = 0;
        for (var i = at; i < head.Length && head[i] != '\r'; i++)
        {
            if (head[i] is >= (byte)'0' and <= (byte)'9')
            {
                value = (value * 10) + (head[i] - '0');
            }
        }

        return value;
    }

    private static int IndexOfHeader(ReadOnlySpan<byte> head, ReadOnlySpan<byte> name)
    {
        for (var i = 0; i + name.Length <= head.Length; i++)
        {
            if ((i == 0 || head[i - 1] == '\n') && Ascii.EqualsIgnoreCase(head.Slice(i, name.Length), name))
            {
                return i + name.Length;
            }
        }

        return -1;
    }

    public async ValueTask<Answer> ReadHeadAsync()
    {
        _length = 0;
        int headEnd;
        while ((headEnd = _buffer.AsSpan(0, _length).IndexOf("\r\n\r\n"u8)) < 0)
        {
            var n = await Socket.ReceiveAsync(_buffer.AsMemory(_length));
            if (n == 0)
            {
                throw new SocketException((int)SocketError.ConnectionReset);
            }

            _length += n;
        }

        return Parse(headEnd);
    }

    public async ValueTask<int> ReceiveMoreAsync()
    {
        _length = await Socket.ReceiveAsync(_buffer.AsMemory());
        if (_length == 0)
        {
            throw new SocketException((int)SocketError.ConnectionReset);
        }

        return 0;
    }

    // Reads until the answer's head is in; the body's first bytes may follow it in the buffer.
    public Answer ReadHead()
    {
        _length = 0;
        int headEnd;
        while ((headEnd = _buffer.AsSpan(0, _length).IndexOf("\r\n\r\n"u8)) < 0)
        {
            var n = Socket.Receive(_buffer.AsSpan(_length));
            if (n == 0)
            {
                throw new SocketException((int)SocketError.ConnectionReset);
            }

            _length += n;
        }

        return Parse(headEnd);
    }

    private Answer Parse(int headEnd)
    {

        var head = _buffer.AsSpan(0, headEnd);
        var status = ((head[9] - '0') * 100) + ((head[10] - '0') * 10) + (head[11] - '0');
        string? contentType = null;
        var at = IndexOfHeader(head, "content-type:"u8);
        if (at >= 0)
        {
            var end = head[at..].IndexOf((byte)'\r');
            contentType = Encoding.ASCII.GetString(head.Slice(at, end < 0 ? head.Length - at : end)).Trim();
        }

        _chunked = IndexOfHeader(head, "transfer-encoding:"u8) >= 0;
        _left = _chunked ? 0 : ContentLength(head);
        _scanner = default;
        return new Answer(status, contentType, headEnd + 4);
    }

    public int ReceiveMore()
    {
        _length = Socket.Receive(_buffer);
        if (_length == 0)
        {
            throw new SocketException((int)SocketError.ConnectionReset);
        }

        return 0;
    }

    // The body bytes in the buffer from start, de-chunked into output; true once the answer's last byte was seen.
    public bool Body(int start, byte[] output, ref int outLen)
    {
        var input = _buffer.AsSpan(start, _length - start);
        if (_chunked)
        {
            _scanner.Scan(input, output, ref outLen);
            return _scanner.Done;
        }

        var n = (int)Math.Min(_left, input.Length);
        input[..n].CopyTo(output.AsSpan(outLen));
        outLen += n;
        _left -= n;
        return _left == 0;
    }

    // The answer to the client as it came, framing and all, one send per upstream read.
    public void RelayVerbatim(Socket client)
    {
        var answer = ReadHead();
        var start = answer.BodyStart;
        var sendFrom = 0;
        while (true)
        {
            bool done;
            if (_chunked)
            {
                var dummy = 0;
                _scanner.Scan(_buffer.AsSpan(start, _length - start), null, ref dummy);
                done = _scanner.Done;
            }
            else
            {
                var n = (int)Math.Min(_left, _length - start);
                _left -= n;
                done = _left == 0;
            }

            client.Send(_buffer.AsSpan(sendFrom, _length - sendFrom));
            if (done)
            {
                return;
            }

            start = sendFrom = ReceiveMore();
        }
    }
}

// HTTP/1.1 chunked framing, scanned a read at a time: where the payload is and where the message ends.
internal struct ChunkScanner
{
    private int _state;
    private long _left;
    private int _lineLength;

    public bool Done { readonly get; private set; }

    public void Scan(ReadOnlySpan<byte> input, byte[]? output, ref int outLen)
    {
        var i = 0;
        while (i < input.Length && !Done)
        {
            var b = input[i];
            switch (_state)
            {
                case 0: // size
                    if (b == '\r')
                    {
                        _state = 2;
                    }
                    else if (b == ';')
                    {
                        _state = 1;
                    }
                    else
                    {
                        _left = (_left * 16) + (b <= '9' ? b - '0' : (b | 0x20) - 'a' + 10);
                    }

                    i++;
                    break;
                case 1: // extension
                    if (b == '\r')
                    {
                        _state = 2;
                    }

                    i++;
                    break;
                case 2: // the size line's LF
                    i++;
                    _state = _left == 0 ? 6 : 3;
                    _lineLength = 0;
                    break;
                case 3: // data
                    var n = (int)Math.Min(_left, input.Length - i);
                    if (output is not null)
                    {
                        input.Slice(i, n).CopyTo(output.AsSpan(outLen));
                        outLen += n;
                    }

                    i += n;
                    _left -= n;
                    if (_left == 0)
                    {
                        _state = 4;
                    }

                    break;
                case 4: // data's CR
                    i++;
                    _state = 5;
                    break;
                case 5: // data's LF
                    i++;
                    _state = 0;
                    _left = 0;
                    break;
                case 6: // trailer line
                    if (b == '\r')
                    {
                        _state = 7;
                    }
                    else
                    {
                        _lineLength++;
                    }

                    i++;
                    break;
                default: // trailer's LF: an empty line ends the message
                    i++;
                    if (_lineLength == 0)
                    {
                        Done = true;
                    }
                    else
                    {
                        _lineLength = 0;
                        _state = 6;
                    }

                    break;
            }
        }
    }
}
