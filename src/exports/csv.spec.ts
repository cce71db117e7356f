import { csvLine, csvVerbatim, csvRecordWriter, csvText } from './csv';

describe('csv', () => {
  it('leaves plain fields alone and writes null as an empty field', () => {
    expect(csvLine(['a', 'b c', null, undefined, ''])).toBe('a,b c,,,\r\n');
  });

  it('quotes fields with a comma, quote or line break and doubles their quotes', () => {
    expect(csvText('a,b')).toBe('"a,b"');
    expect(csvText('say "hi"')).toBe('"say ""hi"""');
    expect(csvText('two\nlines')).toBe('"two\nlines"');
    expect(csvText('cr\r')).toBe('"cr\r"');
  });

  it.each([
    ['=HYPERLINK("http://x","y")', `"'=HYPERLINK(""http://x"",""y"")"`],
    ['+1+cmd', "'+1+cmd"],
    ['-2+3', "'-2+3"],
    ['-1.5', "'-1.5"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['\tcalc', "'\tcalc"],
    ['\rcalc', `"'\rcalc"`],
  ])('neutralises the text cell %j against formula injection', (value, written) => {
    expect(csvText(value)).toBe(written);
  });

  it('leaves text that only contains a formula character later alone', () => {
    expect(csvText('a=b')).toBe('a=b');
    expect(csvText('claim-4711')).toBe('claim-4711');
  });

  it('writes number cells as they are, negative ones included', () => {
    expect(csvVerbatim('-1.5')).toBe('-1.5');
    expect(csvVerbatim('0.000000001')).toBe('0.000000001');
    expect(csvVerbatim(null)).toBe('');
  });

  it('writes a record by column kind: verbatim cells as they are, text neutralised and quoted', () => {
    const write = csvRecordWriter(['verbatim', 'text', 'text', 'verbatim']);
    expect(write(['-1.5', '-1.5', '=1+2', null])).toBe(`-1.5,'-1.5,'=1+2,\r\n`);
    expect(write(['2', 'a,b', '', '-3'])).toBe('2,"a,b",,-3\r\n');
  });
});
