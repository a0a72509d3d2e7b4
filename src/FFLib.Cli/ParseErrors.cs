using System.CommandLine;
using System.CommandLine.Parsing;
using System.Text.RegularExpressions;

namespace FFLib.Cli;

/// <summary>
/// Command-line parse errors as one line and exit code 2: the unknown option or command with the
/// nearest known name ("did you mean --epochs?"), or the option whose value could not be read, in
/// words rather than .NET type names; then where the full usage is.
/// </summary>
internal static partial class ParseErrors
{
    public const int ExitCode = 2;

    public static int Report(ParseResult result)
    {
        var command = result.CommandResult.Command;
        string name = command is RootCommand ? "fflib" : "fflib " + command.Name;
        Console.Error.WriteLine("error: " + Describe(result, command, name));
        Console.Error.WriteLine($"see {name} --help");
        return ExitCode;
    }

    internal static string Describe(ParseResult result, Command command, string name)
    {
        if (result.UnmatchedTokens.Count > 0)
        {
            // Only the first: the rest are usually the value of an unknown option.
            string token = result.UnmatchedTokens[0];
            if (command is RootCommand && !token.StartsWith('-'))
                return $"unknown command '{token}'{Suggest(token, command.Subcommands.Select(c => c.Name))}. The commands are {string.Join(", ", command.Subcommands.Select(c => c.Name))}.";
            if (token.StartsWith('-'))
                return $"{name} has no option {token}{Suggest(token, command.Options.SelectMany(o => o.Aliases.Prepend(o.Name)).Where(a => a.StartsWith("--", StringComparison.Ordinal)))}";
            return $"{name} does not take the argument '{token}' (options are written --name value).";
        }
        string message = result.Errors[0].Message;
        var m = CannotParse().Match(message);
        if (m.Success)
        {
            string type = m.Groups["type"].Value;
            string expected = type.Contains("Single", StringComparison.Ordinal) || type.Contains("Double", StringComparison.Ordinal) ? "a number"
                : type.Contains("Int", StringComparison.Ordinal) ? "a whole number" : "a value of the right kind";
            return $"{m.Groups["option"].Value}: '{m.Groups["value"].Value}' is not {expected}.";
        }
        var missing = MissingValue().Match(message);
        if (missing.Success) return $"{missing.Groups["option"].Value} needs a value.";
        var required = Required().Match(message);
        if (required.Success) return $"{name} needs {required.Groups["option"].Value}.";
        return message;
    }

    /// <summary>" (did you mean X?)" for the known name nearest to <paramref name="token"/> (a small edit distance, or a prefix), else "".</summary>
    internal static string Suggest(string token, IEnumerable<string> known)
    {
        var best = known.Distinct().Select(k => (k, d: Distance(token, k)))
            .Where(x => x.d <= Math.Max(2, Math.Min(3, x.k.Length / 3)) || x.k.StartsWith(token, StringComparison.Ordinal) && token.Length >= 4)
            .OrderBy(x => x.d).ThenBy(x => x.k, StringComparer.Ordinal).FirstOrDefault();
        return best.k is null ? "" : $" (did you mean {best.k}?)";
    }

    /// <summary>Levenshtein distance.</summary>
    internal static int Distance(string a, string b)
    {
        var row = Enumerable.Range(0, b.Length + 1).ToArray();
        for (int i = 1; i <= a.Length; i++)
        {
            int diagonal = row[0];
            row[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int above = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
                diagonal = above;
            }
        }
        return row[b.Length];
    }

    [GeneratedRegex(@"^Cannot parse argument '(?<value>.*)' for option '(?<option>[^']*)' as expected type '(?<type>[^']*)'")]
    private static partial Regex CannotParse();

    [GeneratedRegex(@"^Required argument missing for option: '(?<option>[^']*)'")]
    private static partial Regex MissingValue();

    [GeneratedRegex(@"^Option '(?<option>[^']*)' is required")]
    private static partial Regex Required();
}
