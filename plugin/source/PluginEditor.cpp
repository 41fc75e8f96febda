#include "PluginEditor.h"

#include "protocol/Transport.h"

namespace
{
    const juce::Colour background (0xff1d2026), panel (0xff272b33), accent (0xff5fb3a1), warn (0xffe0a050);

    void styleLabel (juce::Label& l, float size = 14.0f, juce::Colour colour = juce::Colours::white)
    {
        l.setFont (juce::Font (size));
        l.setColour (juce::Label::textColourId, colour);
        l.setJustificationType (juce::Justification::centredLeft);
    }

    /** One place along a row: a component (none: a gap) `width` wide, inset by `inset` on its left and right. */
    struct Slot { juce::Component* component; int width; int inset = 0; };

    /** Lays the slots out along `row` from its left (or its right), taking their widths from it. */
    void layOut (juce::Rectangle<int>& row, std::initializer_list<Slot> slots, bool fromRight = false)
    {
        for (const auto& s : slots)
        {
            const auto r = fromRight ? row.removeFromRight (s.width) : row.removeFromLeft (s.width);
            if (s.component != nullptr)
                s.component->setBounds (r.reduced (s.inset, 0));
        }
    }
}

MusicGenBridgeEditor::MusicGenBridgeEditor (MusicGenBridgeProcessor& p)
    : AudioProcessorEditor (p),
      processor (p),
      barsAttachment (p.params, MusicGenBridgeProcessor::barsId, bars),
      variationsAttachment (p.params, MusicGenBridgeProcessor::variationsId, variations),
      anchorAttachment (p.params, MusicGenBridgeProcessor::anchorId, anchor),
      playAttachment (p.params, MusicGenBridgeProcessor::playId, playSync),
      loopAttachment (p.params, MusicGenBridgeProcessor::loopId, loop),
      captureAttachment (p.params, MusicGenBridgeProcessor::captureId, capture)
{
    title.setText ("MusicGen Bridge", juce::dontSendNotification);
    styleLabel (title, 22.0f, accent);
    for (auto* l : { &engineLine, &hostLine, &takeLine, &melodyLine, &folderLine })
        styleLabel (*l, 13.5f);
    styleLabel (noticeLine, 13.5f, warn);
    struct Named { juce::Label* label; const char* text; };
    for (auto n : { Named { &promptLabel, "Prompt" }, Named { &barsLabel, "Bars" }, Named { &variationsLabel, "Variations" },
                    Named { &seedLabel, "Seed" }, Named { &loudnessLabel, "Loudness" }, Named { &modelLabel, "Model" },
                    Named { &anchorLabel, "From bar" }, Named { &bpmLabel, "Tempo" }, Named { &connectLabel, "Engine" },
                    Named { &takesLabel, "Takes (double-click to play in sync; drag onto the timeline)" } })
    {
        n.label->setText (n.text, juce::dontSendNotification);
        styleLabel (*n.label, 13.0f, juce::Colours::lightgrey);
    }

    prompt.setMultiLine (true);
    prompt.setReturnKeyStartsNewLine (false);
    prompt.setTextToShowWhenEmpty ("what the music should be, e.g. dusty lo-fi drums, warm rhodes", juce::Colours::grey);
    prompt.setText (processor.settings.prompt, false);
    prompt.onTextChange = [this] { pushSettings(); };

    for (auto* s : { &bars, &variations, &anchor })
    {
        s->setSliderStyle (juce::Slider::IncDecButtons);
        s->setTextBoxStyle (juce::Slider::TextBoxLeft, false, 50, 24);
    }

    seed.setInputRestrictions (10, "0123456789");
    seed.setTextToShowWhenEmpty ("random", juce::Colours::grey);
    seed.onTextChange = [this] { pushSettings(); };
    dice.onClick = [this] { seed.setText (juce::String (juce::Random::getSystemRandom().nextInt (2147483647)), true); };

    loudness.addItem ("off (peak limit)", 1);
    loudness.addItem ("-14 LUFS (streaming)", 2);
    loudness.addItem ("-23 LUFS (broadcast)", 3);
    loudness.onChange = [this] { pushSettings(); };

    model.onChange = [this] { pushSettings(); };
    modelsButton.onClick = [this] { processor.requestModels(); };

    bpmField.setInputRestrictions (7, "0123456789.");
    bpmField.onTextChange = [this] { pushSettings(); };
    timesigField.setInputRestrictions (5, "0123456789/");
    timesigField.onTextChange = [this] { pushSettings(); };

    hostField.setText (processor.settings.host, false);
    portField.setText (juce::String (processor.settings.port), false);
    portField.setInputRestrictions (5, "0123456789");
    tokenField.setPasswordCharacter ((juce::juce_wchar) 0x2022);
    tokenField.setTextToShowWhenEmpty ("token (only with serve --token)", juce::Colours::grey);
    tokenField.setText (processor.settings.token, false);
    connectButton.onClick = [this]
    {
        processor.settings.host = hostField.getText().trim();
        processor.settings.port = juce::jlimit (1, 65535, portField.getText().getIntValue());
        processor.settings.token = tokenField.getText();
        processor.reconnect();
    };

    generateButton.onClick = [this] { pushSettings(); processor.generate(); };
    cancelButton.onClick = [this] { processor.cancel(); };
    generateButton.setColour (juce::TextButton::buttonColourId, accent.darker (0.3f));

    folderButton.onClick = [this]
    {
        chooser = std::make_unique<juce::FileChooser> ("Where the takes go", processor.outDir());
        chooser->launchAsync (juce::FileBrowserComponent::openMode | juce::FileBrowserComponent::canSelectDirectories,
                              [this] (const juce::FileChooser& fc)
                              {
                                  if (fc.getResult() != juce::File())
                                      processor.settings.outDir = fc.getResult().getFullPathName();
                                  refresh();
                              });
    };

    hereButton.onClick = [this]
    {
        const auto h = processor.hostInfo();
        const int bar = mgb::barAt (h.ppq, h.numerator, h.denominator);
        if (auto* param = processor.params.getParameter (MusicGenBridgeProcessor::anchorId))
            param->setValueNotifyingHost (param->convertTo0to1 ((float) bar));
    };

    playTakeButton.onClick = [this] { processor.auditionTake (takes.getSelectedRow()); };
    dragButton.addMouseListener (this, false);
    clearMelody.onClick = [this] { processor.clearMelody(); };

    takes.setColour (juce::ListBox::backgroundColourId, panel);
    takes.setRowHeight (22);

    for (juce::Component* c : std::initializer_list<juce::Component*> {
             &title, &engineLine, &hostLine, &takeLine, &noticeLine, &melodyLine, &folderLine, &promptLabel, &barsLabel,
             &variationsLabel, &seedLabel, &loudnessLabel, &modelLabel, &anchorLabel, &bpmLabel, &connectLabel, &takesLabel,
             &prompt, &seed, &bpmField, &timesigField, &hostField, &portField, &tokenField, &bars, &variations, &anchor,
             &loudness, &model, &dice, &generateButton, &cancelButton, &folderButton, &hereButton, &connectButton,
             &modelsButton, &playTakeButton, &dragButton, &clearMelody, &playSync, &loop, &capture, &progress, &takes })
        addAndMakeVisible (c);

    refresh();
    processor.addChangeListener (this);
    setResizable (true, true);
    setResizeLimits (640, 560, 1600, 1200);
    setSize (780, 640);
}

MusicGenBridgeEditor::~MusicGenBridgeEditor()
{
    processor.removeChangeListener (this);
}

void MusicGenBridgeEditor::pushSettings()
{
    auto& s = processor.settings;
    s.prompt = prompt.getText();
    s.seed = seed.getText().isEmpty() ? -1 : juce::jlimit (0, 2147483647, seed.getText().getLargeIntValue() > 2147483647 ? 2147483647 : seed.getText().getIntValue());
    s.loudness = loudness.getSelectedId() == 2 ? "-14" : loudness.getSelectedId() == 3 ? "-23" : "off";
    const auto names = processor.modelNames();
    const int chosen = model.getSelectedId() - 2;
    if (chosen >= 0 && chosen < names.size())
        s.model = names[chosen];  // the name itself, not the menu's label
    else if (model.getSelectedId() == 1)
        s.model.clear();
    const double bpm = bpmField.getText().getDoubleValue();
    if (bpm >= 20.0 && bpm <= 400.0)
        s.manualBpm = bpm;
    const auto sig = timesigField.getText();
    const int n = sig.upToFirstOccurrenceOf ("/", false, false).getIntValue();
    const int d = sig.fromFirstOccurrenceOf ("/", false, false).getIntValue();
    if (n >= 1 && n <= 64 && (d == 1 || d == 2 || d == 4 || d == 8 || d == 16 || d == 32))
    {
        s.manualNumerator = n;
        s.manualDenominator = d;
    }
}

void MusicGenBridgeEditor::changeListenerCallback (juce::ChangeBroadcaster*)
{
    refresh();
}

void MusicGenBridgeEditor::refresh()
{
    auto& s = processor.settings;
    if (! prompt.hasKeyboardFocus (true) && prompt.getText() != s.prompt)
        prompt.setText (s.prompt, false);
    if (! seed.hasKeyboardFocus (true))
        seed.setText (s.seed >= 0 ? juce::String (s.seed) : juce::String(), false);
    loudness.setSelectedId (s.loudness == "-14" ? 2 : s.loudness == "-23" ? 3 : 1, juce::dontSendNotification);

    // The model menu: the engine's list (from /musicgen/models details 1), the engine's default first.
    const auto names = processor.modelNames();
    const auto melody = processor.melodyModels();
    if (model.getNumItems() != names.size() + 1)
    {
        model.clear (juce::dontSendNotification);
        model.addItem ("(the engine's own)", 1);
        for (int i = 0; i < names.size(); ++i)
            model.addItem (names[i] + (melody.contains (names[i]) ? "   (melody)" : ""), i + 2);
    }
    const int index = names.indexOf (s.model);
    if (s.model.isNotEmpty() && index < 0)
        model.setText (s.model, juce::dontSendNotification);
    else
        model.setSelectedId (index >= 0 ? index + 2 : 1, juce::dontSendNotification);

    engineLine.setText (processor.engineLine(), juce::dontSendNotification);
    const auto h = processor.hostInfo();
    const bool hostTempo = h.hasTempo;
    if (hostTempo)
        hostLine.setText ("Host: " + juce::String (h.bpm, 2) + " bpm, " + juce::String (h.numerator) + "/"
                              + juce::String (h.denominator) + (h.playing ? ", playing at bar " + juce::String (mgb::barAt (h.ppq, h.numerator, h.denominator)) : ", stopped")
                              + (h.sampleRate > 0 ? ", " + juce::String ((int) h.sampleRate) + " Hz" : juce::String()),
                          juce::dontSendNotification);
    else
        hostLine.setText ("The host gives no tempo: takes use the tempo and metre typed here.", juce::dontSendNotification);
    bpmField.setEnabled (! hostTempo);
    timesigField.setEnabled (! hostTempo);
    if (! bpmField.hasKeyboardFocus (true))
        bpmField.setText (hostTempo ? juce::String (h.bpm, 2) : juce::String (s.manualBpm, 2), false);
    if (! timesigField.hasKeyboardFocus (true))
        timesigField.setText (hostTempo ? juce::String (h.numerator) + "/" + juce::String (h.denominator)
                                        : juce::String (s.manualNumerator) + "/" + juce::String (s.manualDenominator), false);

    const auto take = processor.takeLine();
    takeLine.setText (take, juce::dontSendNotification);
    progressValue = processor.takeActive() ? juce::jmax (0.0, processor.takeProgress()) : 0.0;
    generateButton.setEnabled (! processor.takeActive());
    cancelButton.setEnabled (processor.takeCancellable());
    noticeLine.setText (processor.noticeLine(), juce::dontSendNotification);
    melodyLine.setText (processor.melodyLine(), juce::dontSendNotification);
    const auto folder = processor.outDir();
    folderLine.setText ("Takes go to " + folder.getFullPathName() + (s.outDir.isEmpty() ? " (default)" : ""),
                        juce::dontSendNotification);
    takes.updateContent();
    if (s.currentTake >= 0 && takes.getSelectedRow() != s.currentTake)
        takes.selectRow (s.currentTake, true, true);
    takes.repaint();
}

void MusicGenBridgeEditor::paint (juce::Graphics& g)
{
    g.fillAll (background);
    g.setColour (panel);
    g.fillRoundedRectangle (getLocalBounds().reduced (8).toFloat(), 6.0f);
}

void MusicGenBridgeEditor::resized()
{
    auto area = getLocalBounds().reduced (16);
    auto row = [&] (int h) { auto r = area.removeFromTop (h); area.removeFromTop (6); return r; };

    auto top = row (30);
    title.setBounds (top.removeFromLeft (200));
    layOut (top, { { &connectButton, 80 }, { &tokenField, 150, 4 }, { &portField, 60, 4 }, { &hostField, 110, 4 },
                   { &connectLabel, 60 } }, true);
    engineLine.setBounds (row (36));

    auto p = row (56);
    promptLabel.setBounds (p.removeFromLeft (80));
    prompt.setBounds (p);

    auto r1 = row (26);
    layOut (r1, { { &barsLabel, 80 }, { &bars, 120 }, { nullptr, 16 }, { &variationsLabel, 80 }, { &variations, 120 },
                  { nullptr, 16 }, { &seedLabel, 40 }, { &seed, 110 }, { &dice, 50, 2 } });

    auto r2 = row (26);
    layOut (r2, { { &loudnessLabel, 80 }, { &loudness, 190 }, { nullptr, 16 }, { &modelLabel, 50 } });
    modelsButton.setBounds (r2.removeFromRight (70));
    model.setBounds (r2.reduced (2, 0));

    auto r3 = row (26);
    layOut (r3, { { &bpmLabel, 80 }, { &bpmField, 70 }, { &timesigField, 50, 4 } });
    hostLine.setBounds (r3.reduced (6, 0));

    auto r4 = row (30);
    layOut (r4, { { &generateButton, 120 }, { &cancelButton, 90, 6 } });
    progress.setBounds (r4.reduced (6, 2));
    takeLine.setBounds (row (22));
    noticeLine.setBounds (row (36));

    auto r5 = row (26);
    layOut (r5, { { &playSync, 120 }, { &loop, 70 }, { &anchorLabel, 70 }, { &anchor, 120 }, { &hereButton, 60, 4 },
                  { nullptr, 12 }, { &capture, 120 }, { &clearMelody, 60 } });
    melodyLine.setBounds (row (22));

    auto f = row (26);
    folderButton.setBounds (f.removeFromRight (90));
    folderLine.setBounds (f);

    auto t = row (22);
    layOut (t, { { &dragButton, 140 }, { &playTakeButton, 90, 4 } }, true);
    takesLabel.setBounds (t);
    takes.setBounds (area);
}

int MusicGenBridgeEditor::getNumRows()
{
    return (int) processor.settings.takes.size();
}

void MusicGenBridgeEditor::paintListBoxItem (int row, juce::Graphics& g, int width, int height, bool selected)
{
    if (row < 0 || row >= getNumRows())
        return;
    const auto& t = processor.settings.takes[(size_t) row];
    if (selected)
        g.fillAll (accent.withAlpha (0.35f));
    g.setColour (t.missing ? warn : juce::Colours::white);
    g.setFont (13.0f);
    g.drawText (juce::String (row + 1) + ". " + t.describe(), 6, 0, width - 12, height, juce::Justification::centredLeft, true);
}

void MusicGenBridgeEditor::listBoxItemClicked (int row, const juce::MouseEvent&)
{
    takes.selectRow (row);
}

void MusicGenBridgeEditor::selectedRowsChanged (int lastRowSelected)
{
    if (lastRowSelected >= 0 && lastRowSelected != processor.settings.currentTake)
        processor.selectTake (lastRowSelected);
}

void MusicGenBridgeEditor::listBoxItemDoubleClicked (int row, const juce::MouseEvent&)
{
    processor.auditionTake (row);
}

void MusicGenBridgeEditor::mouseDrag (const juce::MouseEvent& e)
{
    // Drag the selected take's WAV out onto the host's timeline (or the file manager).
    if (e.eventComponent != &dragButton || isDragAndDropActive())
        return;
    const int row = takes.getSelectedRow();
    if (row < 0 || row >= getNumRows())
        return;
    const auto& t = processor.settings.takes[(size_t) row];
    if (t.missing || ! juce::File (t.path).existsAsFile())
        return;
    performExternalDragDropOfFiles ({ t.path }, false, this);
}
