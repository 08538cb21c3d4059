using System.Text;
using System.Text.Json;
using CopilotProxy.Telemetry;
using CsCheck;

namespace CopilotProxy.Tests.Telemetry;

/// <summary>
/// What CAPTURE_BODIES keeps (and DEBUG_LOGGING writes) never holds a configured key, wherever a client or an upstream put
/// it: a JSON field of any name, a message's text, a property name, JSON-escaped, an SSE stream, a header-like line, or a
/// body cut off in the middle.
/// </summary>
public sealed class CaptureRedactionPropertyTests
{
    private const string KeyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=.";

    private static readonly Gen<string> Key = Gen.Char[KeyAlphabet].Array[8, 48].Select(c => new string(c));

    private static readonly Gen<string> Words = Gen.OneOf("Weather in Paris?", "", "é€😀", "line\nbreak", "tool", "中文", "key:", " ").Array[0, 3].Select(string.Concat);

    /// <summary>JSON string content: the key as it is, or with its first character written as a \u escape.</summary>
    private static string InJson(string key, bool escaped) =>
        escaped ? $"\\u{(int)key[0]:x4}" + key[1..] : key;

    private static Gen<string> Body(string key) => Gen.OneOf(
        Gen.Select(Words, Words, Gen.Bool, Gen.OneOf("api_key", "note", "x", "Authorization", "content"), (a, b, escaped, field) =>
            $$"""{"model":"m","{{field}}":"{{JsonEncodedText.Encode(a)}}{{InJson(key, escaped)}}{{JsonEncodedText.Encode(b)}}","messages":[{"role":"user","content":[{"type":"text","text":"my key is {{InJson(key, escaped)}}"}]}]}"""),
        Gen.Select(Words, Gen.Bool, (a, escaped) => $$"""{"{{InJson(key, escaped)}}":"{{JsonEncodedText.Encode(a)}}","list":[1,"{{InJson(key, escaped)}}",null]}"""),
        Gen.Select(Words, Gen.Int[1, 4], (a, n) => string.Concat(Enumerable.Repeat($$$"""data: {"choices":[{"delta":{"content":"{{{JsonEncodedText.Encode(a)}}} {{{key}}}"}}]}""" + "\n\n", n)) + "data: [DONE]\n\n"),
        Gen.Select(Words, a => $"Authorization: Bearer {key}\nX-Api-Key: {key}\n{a}"),
        Gen.Select(Words, Gen.Int[0, 400], (a, cut) =>
        {
            var json = $$"""{"messages":[{"content":"{{JsonEncodedText.Encode(a)}} {{key}} and again {{key}}"}]}""";
            return json[..Math.Min(cut, json.Length)];
        }));

    [Fact]
    public void CapturedBodies_NeverContainTheKey()
    {
        Gen.Select(Key, Key.SelectMany(Body), (key, body) => (key, body)).Sample(t =>
        {
            var (key, body) = t;
            var redaction = new Redaction([key, "lm-studio-upstream-key"]);
            var bytes = Encoding.UTF8.GetBytes(body);
            var kept = redaction.Body(bytes, bytes.Length, RequestCapture.MaxBodyBytes);

            Assert.DoesNotContain(key, kept, StringComparison.Ordinal);
            Assert.DoesNotContain(key, Decoded(kept), StringComparison.Ordinal);
        }, iter: 3000);
    }

    [Fact]
    public void Images_AreElidedToTheirSize_AndTheRestOfTheBodyStays()
    {
        var redaction = new Redaction(["sk-not-in-this-body-12345"]);
        var image = new string('Q', 8000);
        var body = $$$"""{"messages":[{"role":"user","content":[{"type":"text","text":"what is this?"},{"type":"image_url","image_url":{"url":"data:image/jpeg;base64,{{{image}}}"}}]}],"images":["{{{image}}}"]}""";

        var kept = redaction.Body(Encoding.UTF8.GetBytes(body), body.Length, RequestCapture.MaxBodyBytes);

        Assert.Contains("what is this?", kept, StringComparison.Ordinal);
        Assert.Contains("[image/jpeg, 6000 bytes elided]", kept, StringComparison.Ordinal);
        Assert.Contains("[base64, 6000 bytes elided]", kept, StringComparison.Ordinal);
        Assert.DoesNotContain("QQQQ", kept, StringComparison.Ordinal);
    }

    /// <summary>Every string of the text read as JSON (a person's viewer would unescape them); the text itself when it is not JSON.</summary>
    private static string Decoded(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            var strings = new StringBuilder();
            Walk(document.RootElement, strings);
            return strings.ToString();
        }
        catch (JsonException)
        {
            return text;
        }
    }

    private static void Walk(JsonElement element, StringBuilder strings)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    strings.Append(property.Name).Append('\n');
                    Walk(property.Value, strings);
                }

                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    Walk(item, strings);
                }

                break;
            case JsonValueKind.String:
                strings.Append(element.GetString()).Append('\n');
                break;
        }
    }
}
