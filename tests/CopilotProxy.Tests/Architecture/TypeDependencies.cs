using System.Reflection;
using System.Reflection.Emit;

namespace CopilotProxy.Tests.Architecture;

/// <summary>
/// Every type a product type uses, read from the compiled assembly: its base type and interfaces, fields, properties,
/// method and constructor signatures, attributes, and every type, method and field token in the IL of its method bodies.
/// </summary>
/// <remarks>
/// Why the compiled assembly and not the sources' <c>using</c> lines: a <c>using</c> may be unused, a nested namespace
/// sees its parents' types without one, and fully qualified names, <c>global using</c> and source generators
/// (<c>[LoggerMessage]</c>, JSON contexts, regexes) are invisible to a text scan. The IL is what actually runs.
/// Compiler-generated closures and async state machines are nested types, so they count for the type they belong to.
/// </remarks>
internal static class TypeDependencies
{
    private const BindingFlags Everything = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance |
        BindingFlags.Static | BindingFlags.DeclaredOnly;

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    /// <summary>The types <paramref name="type"/> refers to (generic arguments and element types unwrapped).</summary>
    public static IEnumerable<Type> Of(Type type)
    {
        var found = new HashSet<Type>();
        Add(found, type.BaseType);
        foreach (var i in type.GetInterfaces())
        {
            Add(found, i);
        }

        AddAttributes(found, type.CustomAttributes);
        foreach (var field in type.GetFields(Everything))
        {
            Add(found, field.FieldType);
            AddAttributes(found, field.CustomAttributes);
        }

        foreach (var property in type.GetProperties(Everything))
        {
            Add(found, property.PropertyType);
        }

        foreach (var method in type.GetMethods(Everything).Cast<MethodBase>().Concat(type.GetConstructors(Everything)))
        {
            if (method is MethodInfo info)
            {
                Add(found, info.ReturnType);
            }

            foreach (var parameter in method.GetParameters())
            {
                Add(found, parameter.ParameterType);
            }

            AddAttributes(found, method.CustomAttributes);
            foreach (var referenced in FromIl(method))
            {
                Add(found, referenced);
            }
        }

        return found;
    }

    private static void AddAttributes(HashSet<Type> found, IEnumerable<CustomAttributeData> attributes)
    {
        foreach (var attribute in attributes)
        {
            Add(found, attribute.AttributeType);
            foreach (var argument in attribute.ConstructorArguments.Concat(attribute.NamedArguments.Select(a => a.TypedValue)))
            {
                if (argument.Value is Type typeArgument)
                {
                    Add(found, typeArgument);
                }
            }
        }
    }

    private static void Add(HashSet<Type> found, Type? type)
    {
        if (type is null || type.IsGenericParameter)
        {
            return;
        }

        if (type.HasElementType)
        {
            Add(found, type.GetElementType());
            return;
        }

        if (type.IsGenericType && !type.IsGenericTypeDefinition)
        {
            foreach (var argument in type.GetGenericArguments())
            {
                Add(found, argument);
            }

            type = type.GetGenericTypeDefinition();
        }

        found.Add(type);
    }

    /// <summary>Walks the method body's IL and resolves every type, method and field token it names.</summary>
    private static IEnumerable<Type> FromIl(MethodBase method)
    {
        var il = method.GetMethodBody()?.GetILAsByteArray();
        if (il is null)
        {
            yield break;
        }

        var module = method.Module;
        var typeArguments = method.DeclaringType is { IsGenericType: true } d ? d.GetGenericArguments() : null;
        var methodArguments = method.IsGenericMethod ? method.GetGenericArguments() : null;
        var at = 0;
        while (at < il.Length)
        {
            var value = il[at] == 0xFE ? (short)(0xFE00 | il[at + 1]) : il[at];
            at += il[at] == 0xFE ? 2 : 1;
            var code = OpCodesByValue[value];
            switch (code.OperandType)
            {
                case OperandType.InlineType or OperandType.InlineMethod or OperandType.InlineField or OperandType.InlineTok:
                    var member = module.ResolveMember(BitConverter.ToInt32(il, at), typeArguments, methodArguments);
                    foreach (var type in TypesOf(member))
                    {
                        yield return type;
                    }

                    at += 4;
                    break;
                case OperandType.InlineSwitch:
                    at += 4 + (4 * BitConverter.ToInt32(il, at));
                    break;
                case OperandType.InlineI8 or OperandType.InlineR:
                    at += 8;
                    break;
                case OperandType.InlineNone:
                    break;
                case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar:
                    at += 1;
                    break;
                case OperandType.InlineVar:
                    at += 2;
                    break;
                default:
                    at += 4;
                    break;
            }
        }
    }

    private static IEnumerable<Type> TypesOf(MemberInfo? member)
    {
        switch (member)
        {
            case Type type:
                yield return type;
                break;
            case MethodInfo method:
                yield return method.DeclaringType!;
                yield return method.ReturnType;
                foreach (var argument in method.IsGenericMethod ? method.GetGenericArguments() : [])
                {
                    yield return argument;
                }

                break;
            case MemberInfo other when other.DeclaringType is { } declaring:
                yield return declaring;
                if (other is FieldInfo field)
                {
                    yield return field.FieldType;
                }

                break;
        }
    }
}
