using System.Data.Common;
using System.Net.Sockets;

namespace CopilotProxy.Keys;

/// <summary>Which exceptions mean "the key database cannot be reached or used right now", as opposed to a bug.</summary>
internal static class KeyDatabaseFailure
{
    public static bool IsUnavailable(Exception ex) =>
        ex is DbException or TimeoutException or SocketException or IOException or UnauthorizedAccessException
        || (ex is InvalidOperationException && ex.Source is "Npgsql" or "Microsoft.Data.Sqlite")
        || (ex.InnerException is { } inner && IsUnavailable(inner));
}
