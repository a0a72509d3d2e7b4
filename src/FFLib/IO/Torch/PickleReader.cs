using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace FFLib.IO.Torch;

/// <summary>A reference to a Python class or function by name (pickle's GLOBAL): never resolved, never run.</summary>
public sealed record PyGlobal(string Module, string Name)
{
    /// <summary>"module.Name".</summary>
    public string FullName => $"{Module}.{Name}";
}

/// <summary>
/// A Python object rebuilt from a pickle as data: its class, the arguments it was created with, and the state its
/// BUILD set (an object's <c>__dict__</c>). Nothing of the class runs.
/// </summary>
public sealed class PyObject(PyGlobal type, IReadOnlyList<object?> arguments)
{
    /// <summary>The class (or the callable a REDUCE named).</summary>
    public PyGlobal Type { get; } = type;

    /// <summary>The constructor's or callable's arguments.</summary>
    public IReadOnlyList<object?> Arguments { get; } = arguments;

    /// <summary>The attributes set by BUILD (string keys).</summary>
    public Dictionary<string, object?> State { get; } = new(StringComparer.Ordinal);

    /// <summary>An attribute, or null when absent.</summary>
    public object? this[string name] => State.TryGetValue(name, out var v) ? v : null;

    /// <inheritdoc />
    public override string ToString() => Type.FullName;
}

/// <summary>
/// A pickle reader that builds data, not objects: dicts, lists, tuples (object[]), strings, numbers, bytes, and
/// <see cref="PyObject"/> for anything a class or callable would have made. It never imports or runs Python code;
/// <see cref="Reduce"/> lets the caller turn chosen callables (torch's tensor rebuilders) into values, and
/// <see cref="PersistentLoad"/> resolves persistent ids (torch's storages). Protocols 0–5, the opcodes pickle writes.
/// </summary>
public sealed class PickleReader
{
    /// <summary>Called for REDUCE/NEWOBJ with the callable and its arguments; return null for the default (a <see cref="PyObject"/>, or a dict for OrderedDict).</summary>
    public Func<PyGlobal, object?[], object?>? Reduce { get; init; }

    /// <summary>Resolves a persistent id (BINPERSID); required when the pickle has one.</summary>
    public Func<object?, object?>? PersistentLoad { get; init; }

    private sealed class Mark;

    private static readonly Mark TheMark = new();

    /// <summary>Reads one pickle from <paramref name="data"/>.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a pickle this reader understands (the opcode and position are named).</exception>
    public object? Read(byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        return ReadCore(data);
    }

    private object? ReadCore(byte[] data)
    {
        var stack = new List<object?>();
        var memo = new Dictionary<long, object?>();
        int pos = 0;

        byte Byte() => pos < data.Length ? data[pos++] : throw Truncated();
        ReadOnlySpan<byte> Take(long n, byte[] d)
        {
            if (n < 0 || pos + n > d.Length) throw Truncated();
            var s = d.AsSpan(pos, (int)n);
            pos += (int)n;
            return s;
        }
        string Line(byte[] d)
        {
            int end = d.AsSpan(pos).IndexOf((byte)'\n');
            if (end < 0) throw Truncated();
            string s = Encoding.UTF8.GetString(d, pos, end);
            pos += end + 1;
            return s;
        }
        object? Pop()
        {
            if (stack.Count == 0) throw Bad("pops an empty stack");
            var v = stack[^1];
            stack.RemoveAt(stack.Count - 1);
            return v;
        }
        object? Top() => stack.Count > 0 ? stack[^1] : throw Bad("reads an empty stack");
        List<object?> PopToMark()
        {
            int m = stack.FindLastIndex(x => ReferenceEquals(x, TheMark));
            if (m < 0) throw Bad("has no MARK");
            var items = stack.GetRange(m + 1, stack.Count - m - 1);
            stack.RemoveRange(m, stack.Count - m);
            return items;
        }
        InvalidDataException Truncated() => new($"The pickle ends early (at byte {pos}).");
        InvalidDataException Bad(string what) => new($"The pickle {what} at byte {pos}.");
        object? Call(object? callable, object?[] args)
        {
            if (callable is not PyGlobal g) throw Bad("calls something that is not a class or function");
            if (Reduce?.Invoke(g, args) is { } v) return v;
            if (g.FullName is "collections.OrderedDict" or "builtins.dict") return new Dictionary<object, object?>();
            if (g.FullName is "builtins.list") return new List<object?>();
            // copyreg._reconstructor(cls, base, state): an instance of cls.
            if (g.FullName is "copyreg._reconstructor" or "copy_reg._reconstructor" && args.Length > 0 && args[0] is PyGlobal cls) return new PyObject(cls, []);
            return new PyObject(g, args);
        }
        static object Key(object? k) => k switch
        {
            null => "None",
            object[] t => string.Join(",", t),
            _ => k,
        };
        void SetItems(object? target, List<object?> kv)
        {
            if (kv.Count % 2 != 0) throw Bad("sets an odd number of dictionary items");
            var dict = target switch
            {
                Dictionary<object, object?> d => d,
                PyObject o => null,
                _ => throw Bad("sets items on something that is not a dictionary"),
            };
            for (int i = 0; i < kv.Count; i += 2)
            {
                if (dict is not null) dict[Key(kv[i])] = kv[i + 1];
                else ((PyObject)target!).State[Key(kv[i]).ToString()!] = kv[i + 1];
            }
        }

        while (true)
        {
            byte op = Byte();
            switch (op)
            {
                case 0x80: Byte(); break; // PROTO
                case 0x95: Take(8, data); break; // FRAME: the frames are just the bytes that follow
                case (byte)'.': return Pop(); // STOP
                case (byte)'(': stack.Add(TheMark); break;
                case (byte)'}': stack.Add(new Dictionary<object, object?>()); break;
                case (byte)']': stack.Add(new List<object?>()); break;
                case (byte)')': stack.Add(Array.Empty<object?>()); break;
                case (byte)'N': stack.Add(null); break;
                case 0x88: stack.Add(true); break;
                case 0x89: stack.Add(false); break;
                case (byte)'K': stack.Add((long)Byte()); break;
                case (byte)'M': stack.Add((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2, data))); break;
                case (byte)'J': stack.Add((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4, data))); break;
                case 0x8a: // LONG1
                {
                    var bytes = Take(Byte(), data);
                    var big = new BigInteger(bytes, isUnsigned: false, isBigEndian: false);
                    stack.Add(big >= long.MinValue && big <= long.MaxValue ? (long)big : big);
                    break;
                }
                case 0x8b: stack.Add(new BigInteger(Take(BinaryPrimitives.ReadInt32LittleEndian(Take(4, data)), data), false, false)); break; // LONG4
                case (byte)'G': stack.Add(BinaryPrimitives.ReadDoubleBigEndian(Take(8, data))); break;
                case (byte)'I': // INT (text; "01"/"00" are True/False)
                {
                    string s = Line(data);
                    stack.Add(s == "01" ? true : s == "00" ? false : long.Parse(s, System.Globalization.CultureInfo.InvariantCulture));
                    break;
                }
                case (byte)'L': stack.Add(long.Parse(Line(data).TrimEnd('L'), System.Globalization.CultureInfo.InvariantCulture)); break;
                case (byte)'F': stack.Add(double.Parse(Line(data), System.Globalization.CultureInfo.InvariantCulture)); break;
                case (byte)'X': stack.Add(Encoding.UTF8.GetString(Take(BinaryPrimitives.ReadUInt32LittleEndian(Take(4, data)), data))); break;
                case 0x8c: stack.Add(Encoding.UTF8.GetString(Take(Byte(), data))); break;
                case 0x8d: stack.Add(Encoding.UTF8.GetString(Take((long)BinaryPrimitives.ReadUInt64LittleEndian(Take(8, data)), data))); break;
                case (byte)'T': stack.Add(Encoding.Latin1.GetString(Take(BinaryPrimitives.ReadInt32LittleEndian(Take(4, data)), data))); break;
                case (byte)'U': stack.Add(Encoding.Latin1.GetString(Take(Byte(), data))); break;
                case (byte)'B': stack.Add(Take(BinaryPrimitives.ReadUInt32LittleEndian(Take(4, data)), data).ToArray()); break;
                case (byte)'C': stack.Add(Take(Byte(), data).ToArray()); break;
                case 0x8e: stack.Add(Take((long)BinaryPrimitives.ReadUInt64LittleEndian(Take(8, data)), data).ToArray()); break;
                case (byte)'V': stack.Add(Line(data)); break; // UNICODE (raw-unicode-escape; plain text in practice)
                case (byte)'c': // GLOBAL
                {
                    string module = Line(data), name = Line(data);
                    stack.Add(new PyGlobal(module, name));
                    break;
                }
                case 0x93: // STACK_GLOBAL
                {
                    var name = Pop() as string ?? throw Bad("names a global with a non-string");
                    var module = Pop() as string ?? throw Bad("names a global with a non-string");
                    stack.Add(new PyGlobal(module, name));
                    break;
                }
                case (byte)'q': memo[Byte()] = Top(); break;
                case (byte)'r': memo[BinaryPrimitives.ReadUInt32LittleEndian(Take(4, data))] = Top(); break;
                case 0x94: memo[memo.Count] = Top(); break;
                case (byte)'p': memo[long.Parse(Line(data), System.Globalization.CultureInfo.InvariantCulture)] = Top(); break;
                case (byte)'h': stack.Add(memo.TryGetValue(Byte(), out var h) ? h : throw Bad("reads an unset memo slot")); break;
                case (byte)'j': stack.Add(memo.TryGetValue(BinaryPrimitives.ReadUInt32LittleEndian(Take(4, data)), out var j) ? j : throw Bad("reads an unset memo slot")); break;
                case (byte)'g': stack.Add(memo.TryGetValue(long.Parse(Line(data), System.Globalization.CultureInfo.InvariantCulture), out var gv) ? gv : throw Bad("reads an unset memo slot")); break;
                case (byte)'t': stack.Add(PopToMark().ToArray()); break;
                case 0x85: stack.Add(new[] { Pop() }); break;
                case 0x86: { var b = Pop(); var a = Pop(); stack.Add(new[] { a, b }); break; }
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); stack.Add(new[] { a, b, c }); break; }
                case (byte)'l': stack.Add(PopToMark()); break;
                case (byte)'d':
                {
                    var items = PopToMark();
                    var d = new Dictionary<object, object?>();
                    stack.Add(d);
                    SetItems(d, items);
                    break;
                }
                case (byte)'a':
                {
                    var v = Pop();
                    (Top() as List<object?> ?? throw Bad("appends to something that is not a list")).Add(v);
                    break;
                }
                case (byte)'e':
                {
                    var items = PopToMark();
                    (Top() as List<object?> ?? throw Bad("appends to something that is not a list")).AddRange(items);
                    break;
                }
                case (byte)'s':
                {
                    var v = Pop();
                    var k = Pop();
                    SetItems(Top(), [k, v]);
                    break;
                }
                case (byte)'u':
                {
                    var items = PopToMark();
                    SetItems(Top(), items);
                    break;
                }
                case 0x8f: stack.Add(new List<object?>()); break; // EMPTY_SET: a list of its items
                case 0x90: { var items = PopToMark(); (Top() as List<object?> ?? throw Bad("adds to something that is not a set")).AddRange(items); break; }
                case 0x91: stack.Add(PopToMark()); break; // FROZENSET
                case (byte)'R':
                {
                    var args = Pop() as object?[] ?? throw Bad("calls with arguments that are not a tuple");
                    var f = Pop();
                    stack.Add(Call(f, args));
                    break;
                }
                case 0x81: // NEWOBJ
                {
                    var args = Pop() as object?[] ?? throw Bad("creates an object with arguments that are not a tuple");
                    var cls = Pop();
                    stack.Add(Call(cls, args));
                    break;
                }
                case 0x92: // NEWOBJ_EX
                {
                    Pop();
                    var args = Pop() as object?[] ?? throw Bad("creates an object with arguments that are not a tuple");
                    var cls = Pop();
                    stack.Add(Call(cls, args));
                    break;
                }
                case (byte)'b': // BUILD
                {
                    var state = Pop();
                    var target = Top();
                    // state may be (dict, slots) as for objects with __slots__.
                    if (state is object?[] { Length: 2 } pair) state = pair[0] ?? pair[1];
                    if (target is PyObject o && state is Dictionary<object, object?> sd)
                        foreach (var (k, v) in sd) o.State[k.ToString()!] = v;
                    else if (target is PyObject o2) o2.State["__state__"] = state;
                    else if (target is Dictionary<object, object?> td && state is Dictionary<object, object?> sd2)
                        foreach (var (k, v) in sd2) td[k] = v;
                    break;
                }
                case (byte)'Q': // BINPERSID
                {
                    var pid = Pop();
                    stack.Add(PersistentLoad is { } load ? load(pid) : throw Bad("has a persistent id and no loader for it"));
                    break;
                }
                case (byte)'P': // PERSID (text)
                {
                    string pid = Line(data);
                    stack.Add(PersistentLoad is { } load ? load(pid) : throw Bad("has a persistent id and no loader for it"));
                    break;
                }
                case (byte)'0': Pop(); break; // POP
                case (byte)'1': PopToMark(); break; // POP_MARK
                case (byte)'2': stack.Add(Top()); break; // DUP
                default: throw Bad($"has opcode 0x{op:x2}, which this reader does not know");
            }
        }
    }
}
