// Where the bytes of the Native AOT binary go, per assembly (issue 16). Reads the mstat file ILC writes with
// -p:IlcGenerateMstatFile=true (format 2.x): a metadata-only assembly whose <Module> methods list, as IL, one record
// per compiled type and method (ldtoken, then ldc.i4 size [, GC info size, EH info size], address), per RVA field and
// frozen object, and per named blob (ldstr, ldc.i4 size). A generic instantiation counts for the assembly that defines
// the generic type, as sizoscope does.
//   dotnet run bench/size/mstat.cs -- artifacts/obj/CopilotProxy/release_linux-x64/native/copilot-proxy.mstat [binary]
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

if (args.Length is < 1 or > 2)
{
    Console.Error.WriteLine("usage: dotnet run bench/size/mstat.cs -- FILE.mstat [BINARY]");
    return 64;
}

using var stream = File.OpenRead(args[0]);
using var pe = new PEReader(stream);
var md = pe.GetMetadataReader();
var module = md.GetTypeDefinition(MetadataTokens.TypeDefinitionHandle(1));
var perAssembly = new Dictionary<string, (long Types, long Code)>(StringComparer.Ordinal);
var frozen = 0L;
var blobs = new List<(string Name, long Size)>();

foreach (var handle in module.GetMethods())
{
    var method = md.GetMethodDefinition(handle);
    var name = md.GetString(method.Name);
    var body = pe.GetMethodBody(method.RelativeVirtualAddress).GetILReader();
    var record = new List<long>();
    EntityHandle? token = null;
    string? label = null;

    void Flush()
    {
        // DeduplicatedMethods lists the methods IlcFoldIdenticalMethodBodies folded into another one's code (the
        // method token, then the one it became): no bytes of their own, and no size first.
        if (record.Count == 0 || name == "DeduplicatedMethods")
        {
            record.Clear();
            return;
        }

        // Methods: code, GC info, EH info (then the address); everything else: the size first.
        var size = name == "Methods" ? record.Take(3).Sum() : record[0];
        if (name is "FrozenObjects")
        {
            frozen += size;
        }
        else if (label is not null)
        {
            blobs.Add((label, size));
        }
        else if (token is { } t)
        {
            var assembly = AssemblyOf(t);
            var entry = perAssembly.GetValueOrDefault(assembly);
            perAssembly[assembly] = name is "Methods" or "RvaFields" ? (entry.Types, entry.Code + size) : (entry.Types + size, entry.Code);
        }

        record.Clear();
    }

    while (body.RemainingBytes > 0)
    {
        var op = body.ReadByte();
        switch (op)
        {
            case 0xD0: // ldtoken
                Flush();
                token = (EntityHandle)MetadataTokens.Handle(body.ReadInt32());
                label = null;
                break;
            case 0x72: // ldstr
                Flush();
                label = md.GetUserString(MetadataTokens.UserStringHandle(body.ReadInt32() & 0xFFFFFF));
                token = null;
                break;
            case 0x20: // ldc.i4
                record.Add(body.ReadInt32());
                break;
            case 0x1F: // ldc.i4.s
                record.Add(body.ReadSByte());
                break;
            case >= 0x16 and <= 0x1E: // ldc.i4.0 .. ldc.i4.8
                record.Add(op - 0x16);
                break;
            case 0x15: // ldc.i4.m1
                record.Add(-1);
                break;
            case 0x26 or 0x2A or 0x00: // pop, ret, nop
                break;
            default:
                throw new InvalidDataException($"unexpected IL opcode 0x{op:X2} in {name}");
        }

    }

    Flush();
}

var attributed = perAssembly.Values.Sum(v => v.Types + v.Code) + blobs.Sum(b => b.Size) + frozen;
Console.WriteLine("| assembly | code (methods with GC and EH info, RVA data) | types (MethodTables) | total |");
Console.WriteLine("|---|---:|---:|---:|");
foreach (var (assembly, (types, code)) in perAssembly.OrderByDescending(p => p.Value.Types + p.Value.Code))
{
    Console.WriteLine($"| {assembly} | {Kb(code)} | {Kb(types)} | {Kb(types + code)} |");
}

Console.WriteLine();
Console.WriteLine("| blob | size |");
Console.WriteLine("|---|---:|");
foreach (var (label, size) in blobs.OrderByDescending(b => b.Size).Take(12))
{
    Console.WriteLine($"| {label} | {Kb(size)} |");
}

Console.WriteLine();
Console.WriteLine($"attributed: {Kb(attributed)} (code and types {Kb(perAssembly.Values.Sum(v => v.Types + v.Code))}, blobs {Kb(blobs.Sum(b => b.Size))}, frozen objects {Kb(frozen)})");
if (args.Length == 2)
{
    var binary = new FileInfo(args[1]).Length;
    Console.WriteLine($"binary: {Kb(binary)}; not attributed (runtime, relocations, alignment, symbol tables): {Kb(binary - attributed)}");
}

return 0;

static string Kb(long bytes) => $"{bytes / 1024.0:F0} KB";

string AssemblyOf(EntityHandle handle)
{
    switch (handle.Kind)
    {
        case HandleKind.TypeReference:
            var typeRef = md.GetTypeReference((TypeReferenceHandle)handle);
            return typeRef.ResolutionScope.Kind switch
            {
                HandleKind.AssemblyReference => md.GetString(md.GetAssemblyReference((AssemblyReferenceHandle)typeRef.ResolutionScope).Name),
                HandleKind.TypeReference => AssemblyOf((TypeReferenceHandle)typeRef.ResolutionScope),
                _ => "(this module)",
            };
        case HandleKind.TypeSpecification:
            var blob = md.GetBlobReader(md.GetTypeSpecification((TypeSpecificationHandle)handle).Signature);
            return AssemblyOfSignature(ref blob);
        case HandleKind.MemberReference:
            return AssemblyOf(md.GetMemberReference((MemberReferenceHandle)handle).Parent);
        case HandleKind.MethodSpecification:
            return AssemblyOf(md.GetMethodSpecification((MethodSpecificationHandle)handle).Method);
        case HandleKind.TypeDefinition or HandleKind.MethodDefinition:
            return "(this module)";
        default:
            return $"({handle.Kind})";
    }
}

string AssemblyOfSignature(ref BlobReader blob)
{
    var code = blob.ReadSignatureTypeCode();
    switch (code)
    {
        case SignatureTypeCode.GenericTypeInstance:
            return AssemblyOfSignature(ref blob);
        case SignatureTypeCode.TypeHandle:
            return AssemblyOf(blob.ReadTypeHandle());
        case SignatureTypeCode.SZArray or SignatureTypeCode.Pointer or SignatureTypeCode.ByReference:
            return AssemblyOfSignature(ref blob);
        case SignatureTypeCode.Array:
            return AssemblyOfSignature(ref blob);
        default:
            return "System.Private.CoreLib";
    }
}
